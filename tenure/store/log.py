"""The score log: append-only Parquet segments read through DuckDB views.

Why segments: a Prefect process worker runs each flow run in its own process, and DuckDB allows one
writing process per database file. So nothing shares a writable database: every writer appends its own
segment (written under a temporary name, fsynced, atomically renamed, directory fsynced), and readers
open an in-memory DuckDB whose views read all segments with ``read_parquet(..., union_by_name=true)``.
A killed writer leaves at most a ``.tmp`` file that no reader ever globs. A segment is named after a
digest of its row ids, so a retried append replaces its own file instead of adding a copy. A compaction
records in its merged segment's metadata which segments it replaced, and readers skip any of those
still on disk, so a compaction killed between writing and deleting never shows a row twice, with no
per-row de-duplication on the read path.

Layout under ``root``: ``runs/*.parquet``, ``scores/*.parquet``, ``events/*.parquet`` (promotions).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["SCHEMAS", "SCOREBOARD_SQL", "CompactionReport", "ScoreLog", "Table", "new_id"]

Table = Literal["runs", "scores", "events"]

_TS = pa.timestamp("us", tz="UTC")
SCHEMAS: dict[str, pa.Schema] = {
    "runs": pa.schema(
        [
            ("run_id", pa.string()),
            ("ts", _TS),
            ("task_id", pa.string()),
            ("task_type", pa.string()),
            ("role", pa.string()),  # ground_truth | candidate | promoted | canary
            ("source", pa.string()),  # live | golden | replay | backtest
            ("model", pa.string()),  # what was asked for (model id or chain:NAME)
            ("served_by", pa.string()),
            ("gt_run_id", pa.string()),  # for a shadow: the ground-truth run it is compared with
            ("input", pa.string()),  # JSON of the task input
            ("output", pa.string()),  # JSON of the parsed output
            ("reference", pa.string()),  # JSON of the reference the run was judged against, if any
            ("record", pa.string()),  # JSON of the model layer's CallResult (attempts, fallbacks, …)
            ("trace_id", pa.string()),
            ("cost_usd", pa.float64()),
            ("latency_ms", pa.float64()),
            ("input_tokens", pa.int64()),
            ("output_tokens", pa.int64()),
            ("error", pa.string()),
        ]
    ),
    "scores": pa.schema(
        [
            ("score_id", pa.string()),
            ("ts", _TS),
            ("run_id", pa.string()),  # the candidate's run
            ("gt_run_id", pa.string()),
            ("task_id", pa.string()),
            ("task_type", pa.string()),
            ("candidate", pa.string()),
            ("judge", pa.string()),  # label_match, field_f1, heuristic:minilm, llm:anthropic:…
            ("judge_kind", pa.string()),  # deterministic | heuristic | llm
            ("score", pa.float64()),  # null when judging failed
            ("passed", pa.bool_()),
            ("reason", pa.string()),
            ("status", pa.string()),  # ok | judge_failed
            ("source", pa.string()),
            ("cost_usd", pa.float64()),  # what judging this run cost (LLM judges); 0 for the free ones
        ]
    ),
}
SCHEMAS["events"] = pa.schema(
    [
        ("event_id", pa.string()),
        ("ts", _TS),
        ("task_type", pa.string()),
        ("model", pa.string()),
        ("action", pa.string()),  # promote | demote | reject
        ("actor", pa.string()),  # gate | drift | user:NAME
        ("reason", pa.string()),
        ("evidence", pa.string()),  # JSON: n, mean, bound, policy, parameters, judge
    ]
)
_ID = {"runs": "run_id", "scores": "score_id", "events": "event_id"}
SCOREBOARD_SQL = """
    WITH failures AS (
        SELECT candidate, task_type, count(*) AS judge_failures FROM scores
        WHERE status = 'judge_failed' GROUP BY candidate, task_type
    )
    SELECT c.model, c.task_type, c.judge, c.judge_kind, c.n, c.mean, c.std, c.last_update,
           coalesce(f.judge_failures, 0) AS judge_failures
    FROM confidence c LEFT JOIN failures f ON f.candidate = c.model AND f.task_type = c.task_type
    ORDER BY c.model, c.task_type, c.judge
"""
_COMPACT = "-compact-"
_REPLACES = "tenure.replaces"
_ROW_GROUP = 128_000  # several row groups per merged file, so DuckDB scans it on every core


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class CompactionReport:
    table: str
    segments_before: int
    segments_after: int
    rows: int


class ScoreLog:
    """Append segments; read everything through DuckDB views (``runs``, ``scores``, ``confidence``)."""

    def __init__(self, root: Path):
        self.root = root

    def _dir(self, table: Table) -> Path:
        return self.root / table

    def segments(self, table: Table) -> list[Path]:
        return sorted(self._dir(table).glob("*.parquet"))

    def append(self, table: Table, rows: Sequence[dict[str, Any]]) -> Path | None:
        """Write ``rows`` as one new segment, atomically. Returns its path (``None`` for no rows).

        The name is a digest of the rows' ids: appending the same rows again (a retried task) rewrites
        the same segment rather than duplicating it."""
        if not rows:
            return None
        now = datetime.now(UTC)
        arrow = pa.Table.from_pylist([{"ts": now, **row} for row in rows], schema=SCHEMAS[table])
        digest = hashlib.sha256("\n".join(str(r[_ID[table]]) for r in rows).encode()).hexdigest()[:20]
        existing = sorted(self._dir(table).glob(f"*-{digest}.parquet"))
        name = existing[0].name if existing else f"{now:%Y%m%dT%H%M%S%f}-{digest}.parquet"
        return self._write(table, arrow, name)

    def _write(self, table: Table, arrow: pa.Table, name: str, replaces: Sequence[str] = ()) -> Path:
        directory = self._dir(table)
        directory.mkdir(parents=True, exist_ok=True)
        final = directory / name
        partial = directory / f".{name}.tmp"
        if replaces:
            arrow = arrow.replace_schema_metadata({_REPLACES: json.dumps(list(replaces))})
        pq.write_table(arrow, partial, compression="zstd", row_group_size=_ROW_GROUP)
        with partial.open("rb") as f:
            os.fsync(f.fileno())
        partial.replace(final)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return final

    def live_segments(self, table: Table) -> list[Path]:
        """The segments whose rows count: all of them but those a completed compaction replaced."""
        segments = self.segments(table)
        replaced: set[str] = set()
        for path in segments:
            if _COMPACT in path.name:
                metadata = pq.read_schema(path).metadata or {}
                replaced.update(json.loads(metadata.get(_REPLACES.encode(), b"[]")))
        return [p for p in segments if p.name not in replaced]

    def _source(self, table: Table, con: duckdb.DuckDBPyConnection) -> str:
        segments = self.live_segments(table)
        if not segments:
            con.register(f"_{table}_empty", SCHEMAS[table].empty_table())
            return f"_{table}_empty"
        if len(segments) == len(self.segments(table)):
            files = "'" + str(self._dir(table) / "*.parquet").replace("'", "''") + "'"
        else:
            files = "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in segments) + "]"
        return f"read_parquet({files}, union_by_name=true)"

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only view of the log: an in-memory DuckDB with the views, never blocking a writer."""
        con = duckdb.connect(":memory:")
        for table in ("runs", "scores", "events"):
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM {self._source(table, con)}")
        con.execute(
            """
            CREATE VIEW confidence AS
            SELECT candidate AS model, task_type, judge, any_value(judge_kind) AS judge_kind,
                   count(*) AS n, avg(score) AS mean, coalesce(stddev_samp(score), 0) AS std,
                   max(ts) AS last_update
            FROM scores WHERE status = 'ok'
            GROUP BY candidate, task_type, judge
            """
        )
        return con

    @contextlib.contextmanager
    def _exclusive(self, table: Table) -> Iterator[None]:
        """One compaction per table at a time (writers never take this lock)."""
        self._dir(table).mkdir(parents=True, exist_ok=True)
        with (self._dir(table) / ".compact.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def compact(self, table: Table) -> CompactionReport:
        """Merge every live segment into one (recording which it replaces), then delete the merged ones."""
        with self._exclusive(table):
            before = self.segments(table)
            inputs = self.live_segments(table)
            if len(before) <= 1:
                return CompactionReport(table, len(before), len(before), self.count(table))
            con = duckdb.connect(":memory:")
            files = ", ".join("'" + str(p).replace("'", "''") + "'" for p in inputs)
            merged = con.sql(
                f"SELECT * FROM read_parquet([{files}], union_by_name=true) ORDER BY ts"
            ).to_arrow_table()
            merged = merged.select(SCHEMAS[table].names).cast(SCHEMAS[table])
            name = f"{time.strftime('%Y%m%dT%H%M%S')}{_COMPACT}{uuid.uuid4().hex[:8]}.parquet"
            self._write(table, merged, name, replaces=[p.name for p in inputs])
            for path in before:  # inputs, and any leftovers an earlier crashed compaction had replaced
                path.unlink(missing_ok=True)
            return CompactionReport(table, len(before), len(self.segments(table)), merged.num_rows)

    def pending_shadows(self, task_type: str, candidate: str, limit: int) -> list[dict[str, Any]]:
        """Live ground-truth runs of ``task_type`` that ``candidate`` has not shadowed yet, oldest first."""
        return self.records(
            """
                SELECT g.run_id, g.task_id, g.input, g.output FROM runs g
                WHERE g.role = 'ground_truth' AND g.source = 'live' AND g.task_type = ? AND g.error IS NULL
                  AND NOT EXISTS (SELECT 1 FROM runs c WHERE c.gt_run_id = g.run_id AND c.model = ?)
                ORDER BY g.ts LIMIT ?
                """,
            [task_type, candidate, limit],
        )

    def records(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """``query`` as one dict per row."""
        columns, rows = self.query(sql, params)
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def query(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run one read-only statement against the views; anything but SELECT is refused."""
        try:
            statements = duckdb.extract_statements(sql)
        except duckdb.Error as exc:
            raise ValueError(f"not valid SQL: {exc}") from None
        kinds = [s.type.name for s in statements]
        if kinds != ["SELECT"]:
            raise ValueError(f"only one read-only SELECT is allowed (got {', '.join(kinds) or 'nothing'})")
        con = self.connect()
        try:
            rows = con.execute(sql, list(params)).fetchall()
        except duckdb.Error as exc:
            raise ValueError(str(exc).splitlines()[0]) from None
        return [c[0] for c in con.description], rows

    def rows(self, table: Table) -> list[dict[str, Any]]:
        """Every row of a small table (events), oldest first, read straight from its segments: no DuckDB
        connection, so it is cheap enough for the caller's path."""
        segments = self.live_segments(table)
        if not segments:
            return []
        merged = pa.concat_tables([pq.read_table(p).select(SCHEMAS[table].names) for p in segments])
        return sorted(merged.to_pylist(), key=lambda row: row["ts"])

    def archived_ground_truth(self, task_type: str, limit: int) -> list[dict[str, Any]]:
        """The newest answered ground-truth runs of ``task_type`` (the archive backtests run against)."""
        return self.records(
            """
                SELECT run_id, task_id, input, output FROM runs
                WHERE role = 'ground_truth' AND task_type = ? AND error IS NULL AND output IS NOT NULL
                ORDER BY ts DESC LIMIT ?
                """,
            [task_type, limit],
        )

    def pending_canaries(self, task_type: str, limit: int) -> list[dict[str, Any]]:
        """Canary runs of ``task_type`` not yet scored against the ground truth, oldest first."""
        return self.records(
            """
                SELECT c.run_id, c.task_id, c.model, c.input, c.output FROM runs c
                WHERE c.role = 'canary' AND c.task_type = ?
                  AND NOT EXISTS (SELECT 1 FROM scores s WHERE s.run_id = c.run_id)
                ORDER BY c.ts LIMIT ?
                """,
            [task_type, limit],
        )

    def judge_spend_today(self) -> dict[str, float]:
        """Dollars spent on judging since midnight UTC, per task type (types with no spend are absent)."""
        _, rows = self.query(
            "SELECT task_type, sum(cost_usd) FROM scores WHERE ts >= current_date::TIMESTAMPTZ "
            "AND cost_usd IS NOT NULL GROUP BY task_type"
        )
        return {task_type: float(spent) for task_type, spent in rows}

    def scoreboard(self) -> list[dict[str, Any]]:
        """``confidence`` rows plus judging failures per model × task type: what ``tenure scores`` shows."""
        return self.records(SCOREBOARD_SQL)

    def count(self, table: Table) -> int:
        return self.connect().execute(f"SELECT count(*) FROM {table}").fetchone()[0]
