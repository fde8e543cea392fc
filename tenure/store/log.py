"""The score log: append-only Parquet segments read through DuckDB views.

Why segments: a Prefect process worker runs each flow run in its own process, and DuckDB allows one
writing process per database file. So nothing shares a writable database: every writer appends its own
segment (written under a temporary name, fsynced, atomically renamed, directory fsynced), and readers
open an in-memory DuckDB whose views read the live segments with ``read_parquet(..., union_by_name=true)``.
A killed writer leaves at most a ``.tmp`` file that no reader ever globs. A segment is named after a
digest of its row ids, so a retried append replaces its own file instead of adding a copy.

Which segments are live is ``tenure.store.segments``' rule: not damaged, not replaced by a completed
compaction, not a copy of another (one row per id, even after a sync tool or a restore copied a file).
A damaged segment costs only its own rows. ``compact`` also keeps one row per id.

Layout under ``root``: one folder per table (``runs/``, ``scores/``, ``events/``, …), ``quarantine/``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tenure.store import segments as seg
from tenure.store.evidence import evidence_scores
from tenure.store.results import CompactionReport, JudgedPair, ScoreTotals
from tenure.store.rows import (
    SCHEMAS,
    TABLE_NAMES,
    TABLES,
    CalibrationRow,
    EventRow,
    HumanLabelRow,
    Row,
    RowError,
    RunRow,
    ScoreRow,
    Table,
)

__all__ = ["SCHEMAS", "CompactionReport", "JudgedPair", "ScoreLog", "ScoreTotals"]

_ROW_GROUP = 128_000  # several row groups per merged file, so DuckDB scans it on every core


_TOTALS = """
    SELECT s.candidate, s.task_type, s.judge, any_value(s.judge_kind), s.prompt_version, s.excluded,
           count(*), sum(s.score), count(*) FILTER (WHERE s.passed), coalesce(stddev_samp(s.score), 0),
           max(s.ts)
    FROM {scores} s
    GROUP BY s.candidate, s.task_type, s.judge, s.prompt_version, s.excluded
    ORDER BY s.task_type, s.candidate, s.judge, s.prompt_version, s.excluded NULLS FIRST
"""


def _interruptible(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any], max_rows: int | None, timeout_s: float | None
) -> list[tuple[Any, ...]]:
    """Run the query on a helper thread while the calling thread waits in Python, so Ctrl-C there (or
    ``timeout_s``) interrupts it at once: DuckDB itself notices a signal only between long steps."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            result = con.execute(sql, params)
            box["rows"] = result.fetchall() if max_rows is None else result.fetchmany(max_rows)
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=work, name="tenure-query", daemon=True)
    thread.start()
    try:
        thread.join(timeout_s)
        if thread.is_alive():
            con.interrupt()
            thread.join()
    except KeyboardInterrupt:
        con.interrupt()
        thread.join(2.0)
        raise
    if "error" in box:
        raise box["error"]
    return box["rows"]


class ScoreLog:
    """Append typed rows as segments; read them through DuckDB views (``runs``, ``scores``, ``events``,
    ``confidence``) or the named queries below, which are the only SQL the rest of tenure runs."""

    def __init__(self, root: Path, *, connection: duckdb.DuckDBPyConnection | None = None):
        self.root = root
        self._connection = connection

    @classmethod
    def for_home(cls, home: Path) -> ScoreLog:
        """The log under ``$TENURE_HOME/store``."""
        return cls(home / "store")

    def _dir(self, table: Table) -> Path:
        return self.root / table

    def segments(self, table: Table) -> list[Path]:
        return sorted(self._dir(table).glob("*.parquet"))

    def append(self, table: Table, rows: Sequence[Row | Mapping[str, Any]]) -> Path | None:
        """Write ``rows`` as one new segment, atomically. Returns its path (``None`` for no rows).

        Each row is a ``RunRow``/``ScoreRow``/``EventRow`` or a mapping with exactly its columns; a row
        with an unknown or missing column is refused (``RowError`` naming it) and nothing is written. The
        segment's name is a digest of the rows' ids: appending the same rows again (a retried task)
        rewrites the same segment rather than duplicating it."""
        if not rows:
            return None
        model = TABLES[table]
        typed = [self._typed(model, row, i) for i, row in enumerate(rows)]
        now = datetime.now(UTC)
        records = [{**r.storage(), "ts": r.ts or now} for r in typed]
        arrow = pa.Table.from_pylist(records, schema=SCHEMAS[table])
        digest = seg.ids_digest(r[model.id_column] for r in records)
        existing = sorted(self._dir(table).glob(f"*-{digest}.parquet"))
        name = existing[0].name if existing else f"{now:%Y%m%dT%H%M%S%f}-{digest}.parquet"
        return self._write(table, arrow, name, seg.metadata(digest))

    @staticmethod
    def _typed(model: type[Row], row: Row | Mapping[str, Any], position: int) -> Row:
        if isinstance(row, model):
            return row
        if isinstance(row, Row):
            raise RowError(f"{model.table} row {position}: a {type(row).__name__} belongs in {row.table}")
        return model.parse(row, position=position)

    def _write(self, table: Table, arrow: pa.Table, name: str, metadata: dict[bytes, bytes]) -> Path:
        directory = self._dir(table)
        directory.mkdir(parents=True, exist_ok=True)
        final = directory / name
        partial = directory / f".{name}.tmp"
        arrow = arrow.replace_schema_metadata(metadata)
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
        """The segments whose rows count (``tenure.store.segments`` says which); a damaged one is named
        on stderr, once per process."""
        return seg.scan(self.root, table).live_paths

    def _source(
        self, table: Table, con: duckdb.DuckDBPyConnection, segments: Sequence[Path] | None = None
    ) -> str:
        """The table's live segments as one relation with every column of its schema: segments written
        before a column existed read it as null (unioned by name with the empty table)."""
        con.register(f"_{table}_empty", SCHEMAS[table].empty_table())
        segments = self.live_segments(table) if segments is None else segments
        if not segments:
            return f"_{table}_empty"
        files = "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in segments) + "]"
        return (
            f"(SELECT * FROM read_parquet({files}, union_by_name=true) "
            f"UNION ALL BY NAME SELECT * FROM _{table}_empty)"
        )

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only view of the log: an in-memory DuckDB with the views, never blocking a writer. The
        connection then reads nothing but the store (no other file, no URL, no extension to install)
        and its settings are locked, so a query handed in (``tenure sql``, an agent's ``query_scores``)
        cannot reach further."""
        con = duckdb.connect(":memory:")
        self._bind(con)
        store = str(self.root.resolve()).replace("'", "''")
        for setting in (
            f"allowed_directories = ['{store}/']",
            "enable_external_access = false",
            "autoinstall_known_extensions = false",
            "autoload_known_extensions = false",
        ):
            con.execute(f"SET {setting}")
        con.execute(
            f"""
            CREATE VIEW confidence AS
            SELECT candidate AS model, task_type, judge, any_value(judge_kind) AS judge_kind,
                   count(*) AS n, avg(score) AS mean, coalesce(stddev_samp(score), 0) AS std,
                   max(ts) AS last_update
            FROM {evidence_scores(after_demotion=False)[0]}
            GROUP BY candidate, task_type, judge
            """
        )
        con.execute("SET lock_configuration = true")
        return con

    def _bind(self, con: duckdb.DuckDBPyConnection) -> None:
        """(Re)create each table's view over its live segments."""
        for table in TABLE_NAMES:
            con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM {self._source(table, con)}")

    @contextlib.contextmanager
    def reading(self) -> Iterator[ScoreLog]:
        """The log for several queries in a row (a report): they share one connection and its views,
        instead of opening one each (~25 ms over 100 segments)."""
        connection = self.connect()
        try:
            yield ScoreLog(self.root, connection=connection)
        finally:
            connection.close()

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
            before = len(self.segments(table))
            found = seg.scan(self.root, table)
            inputs = found.live_paths
            if len(inputs) + len(found.copies) + len(found.replaced) <= 1:
                return CompactionReport(table, before, before, self.count(table))
            con = duckdb.connect(":memory:")
            id_column = TABLES[table].id_column
            merged = con.sql(
                f"SELECT * FROM {self._source(table, con, inputs)} "
                f"QUALIFY row_number() OVER (PARTITION BY {id_column} ORDER BY ts) = 1 ORDER BY ts"
            ).to_arrow_table()
            merged = merged.select(SCHEMAS[table].names).cast(SCHEMAS[table])
            name = f"{time.strftime('%Y%m%dT%H%M%S')}{seg.COMPACT}{uuid.uuid4().hex[:8]}.parquet"
            digest = seg.ids_digest(merged.column(id_column).to_pylist())
            self._write(table, merged, name, seg.metadata(digest, found.live))
            # the inputs, their copies and leftovers an earlier crashed compaction had replaced; a
            # damaged segment stays where it is for ``tenure store check --quarantine``
            for path in [*inputs, *found.copies, *found.replaced]:
                path.unlink(missing_ok=True)
            return CompactionReport(table, before, len(self.segments(table)), merged.num_rows)

    # -- general reading ------------------------------------------------------------------------

    def query(
        self,
        sql: str,
        params: Sequence[Any] = (),
        *,
        max_rows: int | None = None,
        timeout_s: float | None = None,
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run one read-only statement against the views; anything but SELECT is refused. ``max_rows``:
        fetch no more (the caller says it cut); ``timeout_s``: interrupt a query running longer."""
        try:
            statements = duckdb.extract_statements(sql)
        except duckdb.Error as exc:
            raise ValueError(f"not valid SQL: {str(exc).splitlines()[0]}") from None
        kinds = [s.type.name for s in statements]
        if kinds != ["SELECT"]:
            raise ValueError(f"only one read-only SELECT is allowed (got {', '.join(kinds) or 'nothing'})")
        con = self._connection or self.connect()
        for _ in range(3):  # a segment found damaged past its footer is skipped and the query re-run
            try:
                rows = _interruptible(con, sql, list(params), max_rows, timeout_s)
                break
            except duckdb.InterruptException:
                raise ValueError(f"the query ran past its {timeout_s:g} s limit and was stopped") from None
            except duckdb.Error as exc:
                if not self._skip_damaged(exc):
                    raise ValueError(str(exc).splitlines()[0]) from None
                self._bind(con)
        else:
            raise ValueError("too many damaged segments; run `tenure store check --quarantine`")
        return [c[0] for c in con.description], rows

    def _skip_damaged(self, error: duckdb.Error) -> bool:
        """After a query failed reading (not parsing or binding) the segments: read each live segment in
        full and mark the damaged ones, so the query can run again without them. True if any was."""
        if isinstance(error, duckdb.ParserException | duckdb.BinderException | duckdb.CatalogException):
            return False
        damaged = [table for table in TABLE_NAMES if seg.damaged_in(self.root, table, report=True)]
        return bool(damaged)

    def records(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """``query`` as one dict per row."""
        columns, rows = self.query(sql, params)
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def count(self, table: Table) -> int:
        return self.query(f"SELECT count(*) FROM {table}")[1][0][0]

    def _runs(self, sql: str, params: Sequence[Any]) -> list[RunRow]:
        return [RunRow.from_storage(r) for r in self.records(sql, params)]

    # -- the named queries ----------------------------------------------------------------------

    def run(self, run_id: str) -> RunRow | None:
        """One run by id: how a channel in another process reads the turn a worker ran."""
        found = self._runs("SELECT * FROM runs WHERE run_id = ? LIMIT 1", [run_id])
        return found[0] if found else None

    def events(self) -> list[EventRow]:
        """Every promotion event, oldest first, read straight from its segments: no DuckDB connection,
        so it is cheap enough for the caller's path (``route_task`` replays them)."""
        names = SCHEMAS["events"].names
        tables = []
        for path in self.live_segments("events"):
            try:
                tables.append(pq.read_table(path).select(names))
            except (OSError, pa.ArrowException) as exc:
                seg.mark_damaged(path, str(exc).splitlines()[0])
        if not tables:
            return []
        rows = sorted(pa.concat_tables(tables).to_pylist(), key=lambda row: row["ts"])
        return [EventRow.from_storage(r) for r in rows]

    def pending_shadows(self, task_type: str, candidate: str, limit: int) -> list[RunRow]:
        """Live ground-truth runs of ``task_type`` that ``candidate`` has not shadowed yet, oldest first."""
        return self._runs(
            """
            SELECT g.* FROM runs g
            WHERE g.role = 'ground_truth' AND g.source = 'live' AND g.task_type = ? AND g.error IS NULL
              AND NOT EXISTS (SELECT 1 FROM runs c WHERE c.gt_run_id = g.run_id AND c.model = ?)
            ORDER BY g.ts LIMIT ?
            """,
            [task_type, candidate, limit],
        )

    def archived_ground_truth(self, task_type: str, limit: int) -> list[RunRow]:
        """The newest answered ground-truth runs of ``task_type`` (the archive backtests run against)."""
        return self._runs(
            """
            SELECT * FROM runs
            WHERE role = 'ground_truth' AND task_type = ? AND error IS NULL AND output IS NOT NULL
            ORDER BY ts DESC LIMIT ?
            """,
            [task_type, limit],
        )

    def pending_canaries(self, task_type: str, limit: int) -> list[RunRow]:
        """Canary runs of ``task_type`` not yet scored against the ground truth, oldest first."""
        return self._runs(
            """
            SELECT c.* FROM runs c
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

    def score_totals(
        self,
        *,
        after_demotion: bool,
        source: str | None = None,
        exclude_source: str | None = None,
        model: str | None = None,
        task_type: str | None = None,
        since: datetime | None = None,
    ) -> list[ScoreTotals]:
        """``evidence_scores`` summed per candidate × task type × judge (filtered as it says)."""
        scores, params = evidence_scores(after_demotion, source, exclude_source, model, task_type, since)
        _, rows = self.query(_TOTALS.format(scores=scores), params)
        return [
            ScoreTotals(m, t, j, k, v, x, n, float(total or 0.0), passes, std, last)
            for m, t, j, k, v, x, n, total, passes, std, last in rows
        ]

    def judge_failures(self) -> dict[tuple[str, str], int]:
        """Judge failures (no verdict) per candidate × task type."""
        _, rows = self.query(
            "SELECT candidate, task_type, count(*) FROM scores WHERE status = 'judge_failed' GROUP BY ALL"
        )
        return {(model, task_type): n for model, task_type, n in rows}

    def calibrations(self) -> list[CalibrationRow]:
        """The latest calibration of each judge × prompt version × task type."""
        return [
            CalibrationRow.from_storage(r)
            for r in self.records(
                "SELECT * FROM judge_calibrations QUALIFY row_number() OVER "
                "(PARTITION BY judge, prompt_version, task_type ORDER BY ts DESC) = 1 "
                "ORDER BY judge, prompt_version, task_type"
            )
        ]

    def human_labels(self) -> list[HumanLabelRow]:
        """Every pass / fail a person gave, oldest first."""
        return [HumanLabelRow.from_storage(r) for r in self.records("SELECT * FROM human_labels ORDER BY ts")]

    def unreviewed(self, limit: int, task_type: str | None = None) -> list[JudgedPair]:
        """Up to ``limit`` judged pairs no person has labelled, in a stable shuffled order."""
        rows = self.records(
            """
            SELECT s.*, c.input AS task_input, c.output AS candidate_output, c.reference AS task_reference
            FROM scores s JOIN runs c ON c.run_id = s.run_id
            WHERE s.status = 'ok' AND c.reference IS NOT NULL AND (? IS NULL OR s.task_type = ?)
              AND NOT EXISTS (SELECT 1 FROM human_labels h WHERE h.score_id = s.score_id)
            ORDER BY hash(s.score_id) LIMIT ?
            """,
            [task_type, task_type, limit],
        )
        return [
            JudgedPair(
                score=ScoreRow.from_storage(r),
                input=json.loads(r["task_input"]),
                reference=json.loads(r["task_reference"]),
                output=None if r["candidate_output"] is None else json.loads(r["candidate_output"]),
            )
            for r in rows
        ]
