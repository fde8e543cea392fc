"""Analysing the score log: the data behind each figure (``frames``), the figures (``figures``, matplotlib),
the static report page (``page``) and the scores notebook that shows them (``notebook_path``).

matplotlib and Jupyter are the optional ``analysis`` extra: ``frames`` needs neither, ``figures`` and
``page`` need matplotlib, and nothing else in tenure imports them.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from tenure.resources import data_path

__all__ = ["INSTALL", "missing", "notebook_path"]

INSTALL = "pip install -e '.[analysis]'"
"""How to install the analysis extra (from a checkout)."""


def missing(*modules: str) -> list[str]:
    """Those of ``modules`` that cannot be imported."""
    absent = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            absent.append(name)
    return absent


def notebook_path() -> Path:
    """The scores notebook: shipped inside an installed wheel (``tenure/data/notebooks``), or in a
    checkout's ``notebooks/``."""
    shipped = data_path("notebooks", "scores.ipynb")
    return shipped if shipped.exists() else Path(__file__).resolve().parents[2] / "notebooks" / "scores.ipynb"
