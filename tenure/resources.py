"""The data shipped inside the package: golden task set, pricing table, persona templates, sample vault.

Read through ``importlib.resources``, so an installed wheel (not only a checkout) finds them. tenure is
installed unpacked, as pip does, so every shipped file is also a real path on disk.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["data_path"]


def data_path(*parts: str) -> Path:
    """The path of a shipped file or folder under ``tenure/data``, e.g. ``data_path("golden")``."""
    return Path(str(files("tenure").joinpath("data", *parts)))
