"""Persistence: the score log (Parquet segments read through DuckDB), the vault index (LanceDB) and
conversation threads. The only code that knows file formats.

``ScoreLog(root)``: ``append(table, rows)`` writes typed rows (``RunRow``, ``ScoreRow``, ``EventRow``) as one
atomic Parquet segment; ``connect()`` gives an in-memory DuckDB with the views ``runs``, ``scores``,
``events`` and ``confidence``; the named queries are what the rest of tenure reads; ``compact(table)``
merges segments without losing or duplicating rows.
"""

from tenure.store.log import SCHEMAS, CompactionReport, JudgedPair, ScoreLog, ScoreTotals
from tenure.store.rows import (
    CalibrationRow,
    EventRow,
    HumanLabelRow,
    Row,
    RowError,
    RunRow,
    ScoreRow,
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
    "TriageRow",
    "new_id",
]
