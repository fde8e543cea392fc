"""The score/run log and its DuckDB views; the only code that knows file formats.

``ScoreLog(root)``: ``append("runs" | "scores", rows)`` writes one atomic Parquet segment;
``connect()`` gives an in-memory DuckDB with the views ``runs``, ``scores`` and ``confidence``;
``compact(table)`` merges segments without losing or duplicating rows.
"""

from tenure.store.log import SCHEMAS, CompactionReport, ScoreLog, new_id

__all__ = ["SCHEMAS", "CompactionReport", "ScoreLog", "new_id"]
