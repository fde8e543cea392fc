"""Persistence: the score log (Parquet segments read through DuckDB), the vault index (LanceDB) and
conversation threads. The only code that knows file formats.

``ScoreLog(root)``: ``append(table, rows)`` writes typed rows (``RunRow``, ``ScoreRow``, ``EventRow``) as one
atomic Parquet segment; ``connect()`` gives an in-memory DuckDB with the views ``runs``, ``scores``,
``events`` and ``confidence``; the named queries are what the rest of tenure reads; ``compact(table)``
merges segments without losing or duplicating rows.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tenure.store.log import SCHEMAS, CompactionReport, JudgedPair, ScoreLog, ScoreTotals
    from tenure.store.rows import (
        CalibrationRow,
        EventRow,
        HumanLabelRow,
        Row,
        RowError,
        RunRow,
        ScoreRow,
        ToolCallRow,
        TriageRow,
        new_id,
    )

__all__ = [
    "SCHEMAS",
    "CalibrationRow",
    "CompactionReport",
    "EventRow",
    "HumanLabelRow",
    "JudgedPair",
    "Row",
    "RowError",
    "RunRow",
    "ScoreLog",
    "ScoreRow",
    "ScoreTotals",
    "ToolCallRow",
    "TriageRow",
    "new_id",
]
_LOG = {"SCHEMAS", "CompactionReport", "JudgedPair", "ScoreLog", "ScoreTotals"}


def __getattr__(name: str) -> Any:
    """Load the log (DuckDB) on first use, not with the package: ``tenure vault search`` imports
    ``tenure.store.vault`` and never reads the log (it cost a cold search 90 ms)."""
    if name in __all__:
        return getattr(import_module("tenure.store.log" if name in _LOG else "tenure.store.rows"), name)
    raise AttributeError(f"module 'tenure.store' has no attribute {name!r}")
