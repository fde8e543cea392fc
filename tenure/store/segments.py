"""Which of a table's segment files count, and which are damaged, foreign or copies.

A segment counts unless its footer cannot be read (empty, truncated, not Parquet), its schema is not
its table's (a column the table does not have, of another type, or no id column), a completed
compaction replaced it, or it holds the same rows as another segment: sync tools and restores copy
files under new names (``copy of …``, ``… (1).parquet``), and counting a copy would count its rows
twice. Each segment records a digest of its row ids in its footer (older ones get it from their id
column), so a copy is known by its digest whatever its name, and a compaction records the digests of
the segments it merged, so a restored copy of one of them does not count either.

A damaged segment is skipped, never deleted, and named once per process on stderr with what to do
(``tenure store check --quarantine`` moves it to ``store/quarantine/``), so one bad file costs only its
own rows. What a footer says is cached per file (path, size, mtime), so a process opens each footer once.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tenure.store.rows import SCHEMAS, TABLE_NAMES, TABLES, Table

__all__ = [
    "COMPACT",
    "Segment",
    "TableSegments",
    "check",
    "damaged_in",
    "ids_digest",
    "mark_damaged",
    "metadata",
    "quarantine",
    "scan",
]

COMPACT = "-compact-"
_IDS = b"tenure.ids"
_REPLACES = b"tenure.replaces"
_REPLACED_IDS = b"tenure.replaced_ids"
_HINT = "run `tenure store check --quarantine` to move it to store/quarantine/"


@dataclass(frozen=True)
class Segment:
    """What one segment's footer says: ``problem`` (why it cannot be read, else None), the digest of its
    row ids, and for a compacted segment the names and digests of the segments it replaced."""

    path: Path
    problem: str | None = None
    digest: str = ""
    replaces: frozenset[str] = frozenset()
    replaced_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TableSegments:
    """A table's segments sorted into those that count, those that cannot be read and the copies."""

    live: list[Segment]
    damaged: list[Segment]
    copies: list[Path]
    """Segments whose rows another live segment (or a compaction) already holds."""
    replaced: list[Path]
    """Inputs of a completed compaction still on disk (a compaction killed before deleting them)."""

    @property
    def live_paths(self) -> list[Path]:
        return [s.path for s in self.live]


_cache: dict[tuple[str, int, int], Segment] = {}
_reported: set[str] = set()


def ids_digest(ids: Iterable[object]) -> str:
    """The digest a segment is known by: of its row ids, in order."""
    return hashlib.sha256("\n".join(str(i) for i in ids).encode()).hexdigest()[:20]


def metadata(ids_digest: str, replaced: Sequence[Segment] = ()) -> dict[bytes, bytes]:
    """The footer metadata a segment is written with."""
    meta = {_IDS: ids_digest.encode()}
    if replaced:
        meta[_REPLACES] = json.dumps([s.path.name for s in replaced]).encode()
        meta[_REPLACED_IDS] = json.dumps([s.digest for s in replaced]).encode()
    return meta


def _schema_problem(schema: pa.Schema, expected: pa.Schema, id_column: str) -> str | None:
    if id_column not in schema.names:
        return f"not a segment of this table (no {id_column} column)"
    for field in schema:
        if field.name not in expected.names:
            return f"not a segment of this table (unknown column {field.name!r})"
        want = expected.field(field.name).type
        if not field.type.equals(want):
            return f"not a segment of this table (column {field.name!r} is {field.type}, not {want})"
    return None


def _read(path: Path, table: Table) -> Segment:
    expected, id_column = SCHEMAS[table], TABLES[table].id_column
    try:
        footer = pq.read_metadata(path)
        schema = footer.schema.to_arrow_schema()
    except (OSError, pa.ArrowException) as exc:
        return Segment(path, f"cannot be read ({_first_line(exc)})")
    problem = _schema_problem(schema, expected, id_column)
    if problem:
        return Segment(path, problem)
    meta = footer.metadata or {}
    digest = meta.get(_IDS, b"").decode()
    if not digest:  # written before segments carried their digest
        try:
            digest = ids_digest(pq.read_table(path, columns=[id_column]).column(0).to_pylist())
        except (OSError, pa.ArrowException) as exc:
            return Segment(path, f"cannot be read ({_first_line(exc)})")
    return Segment(
        path,
        digest=digest,
        replaces=frozenset(json.loads(meta.get(_REPLACES, b"[]"))),
        replaced_ids=frozenset(json.loads(meta.get(_REPLACED_IDS, b"[]"))),
    )


def _inspect(path: Path, table: Table) -> Segment:
    try:
        stat = path.stat()
    except OSError as exc:
        return Segment(path, f"cannot be read ({exc.strerror})")
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _cache:
        _cache[key] = _read(path, table)
    return _cache[key]


def mark_damaged(path: Path, reason: str, *, report: bool = True) -> None:
    """Remember that reading ``path`` failed past its footer (a query found it), so it is skipped."""
    try:
        stat = path.stat()
    except OSError:
        return
    segment = Segment(path, f"cannot be read ({reason})")
    _cache[(str(path), stat.st_size, stat.st_mtime_ns)] = segment
    if report:
        _report(segment)


def _report(segment: Segment) -> None:
    """Name a damaged segment on stderr, once per process, with what to do."""
    if str(segment.path) not in _reported:
        _reported.add(str(segment.path))
        where = f"{segment.path.parent.parent.name}/{segment.path.parent.name}/{segment.path.name}"
        sys.stderr.write(f"tenure: skipped {where}: {segment.problem}; {_HINT}\n")


def damaged_in(root: Path, table: Table, *, report: bool = False) -> list[Segment]:
    """The table's live segments found damaged by reading every row, not only the footers (a segment can
    have a sound footer and a damaged page); ``report`` names each on stderr."""
    found = []
    for path in scan(root, table, report=False).live_paths:
        try:
            pq.read_table(path)
        except (OSError, pa.ArrowException) as exc:
            mark_damaged(path, _first_line(exc), report=report)
            found.append(_inspect(path, table))
    return found


def check(root: Path) -> tuple[list[Segment], list[Path]]:
    """Every table's damaged segments (every row read) and the copies readers ignore."""
    damaged: list[Segment] = []
    copies: list[Path] = []
    for table in TABLE_NAMES:
        damaged_in(root, table)
        found = scan(root, table, report=False)
        damaged += found.damaged
        copies += found.copies
    return damaged, copies


def quarantine(root: Path, paths: Iterable[Path]) -> list[Path]:
    """Move ``paths`` (segments under ``root``) to ``root/quarantine/<table>/``; returns where they went.
    Nothing is deleted: a person may want a damaged file back, or to read it with other tools."""
    moved = []
    for path in paths:
        target_dir = root / "quarantine" / path.parent.name
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / path.name
        n = 1
        while target.exists():
            n += 1
            target = target_dir / f"{path.stem}.{n}{path.suffix}"
        path.replace(target)
        moved.append(target)
    return moved


def scan(root: Path, table: Table, *, report: bool = True) -> TableSegments:
    """Sort the table's segments under ``root``; with ``report``, name each damaged one on stderr (once
    per process)."""
    inspected = [_inspect(p, table) for p in sorted((root / table).glob("*.parquet"))]
    damaged = [s for s in inspected if s.problem]
    readable = [s for s in inspected if not s.problem]
    replaced_names = set().union(*(s.replaces for s in readable if COMPACT in s.path.name))
    replaced_ids = set().union(*(s.replaced_ids for s in readable if COMPACT in s.path.name))
    live, copies, replaced, seen = [], [], [], set()
    for segment in readable:
        if segment.path.name in replaced_names:
            replaced.append(segment.path)
        elif segment.digest in seen or segment.digest in replaced_ids:
            copies.append(segment.path)
        else:
            seen.add(segment.digest)
            live.append(segment)
    if report:
        for segment in damaged:
            _report(segment)
    return TableSegments(live, damaged, copies, replaced)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
