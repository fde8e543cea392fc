"""The vault index on LanceDB: a table of chunks with vectors and a full-text index, plus note states.

Tables under ``root`` (a LanceDB directory):

- ``chunks``: one row per chunk: id, path, folder, title, heading path, rank, text, the embedded
  ``content`` (title + headings + text) with its hash, the vector, note date, tags, mtime,
  indexed_at. A full-text (BM25) index covers ``content``.
- ``notes``: one row per file seen (indexed or skipped): digest, mtime, size, chunk count, so an
  unchanged file is recognised from a ``stat`` alone and a bad file is not re-read every night.
- ``runs``: one row per index pass with its change counts.

Rows are typed (``ChunkRow``, ``NoteState``, ``IndexPass``); the store knows nothing of how vectors are
made: the vector width of the ``chunks`` table is that of the first vectors written to it.

Consistency: each batch is written with one ``merge_insert`` (upsert the batch's chunks and delete
the batch's notes' other chunks in the same commit), then the batch's note rows. LanceDB commits are
atomic, so a killed indexer leaves whole batches; a note whose chunks landed but whose note row did
not is simply processed again, its vectors found by content hash instead of recomputed. Chunk ids
are derived from path, heading path and rank, so a rerun can never add a duplicate.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.index import FTS, BTree, IvfHnswSq

__all__ = [
    "ChunkMatch",
    "ChunkRow",
    "Filters",
    "IndexBusy",
    "IndexPass",
    "Mode",
    "NoteState",
    "VaultStore",
    "chunk_id",
]

_TS = pa.timestamp("us", tz="UTC")
Mode = Literal["hybrid", "vector", "keyword"]


@dataclass(frozen=True)
class ChunkRow:
    """One piece of a note (its vector is written beside it, from a matrix)."""

    id: str
    path: str
    folder: str
    title: str
    headings: list[str]
    rank: int
    text: str
    content: str
    """What was embedded and keyword-indexed: title, heading path, text."""
    content_hash: str
    note_date: dt.date | None
    tags: list[str]
    mtime_ns: int
    indexed_at: dt.datetime


@dataclass(frozen=True)
class NoteState:
    """What the index knows of one file: enough to tell from a ``stat`` that it has not changed."""

    path: str
    digest: str
    mtime_ns: int
    size: int
    chunks: int
    status: Literal["indexed", "skipped"]
    warning: str | None
    indexed_at: dt.datetime


@dataclass(frozen=True)
class IndexPass:
    """One index pass and what it changed."""

    started_at: dt.datetime
    finished_at: dt.datetime
    vault: str
    model: str
    """The embedder that made the vectors, e.g. ``all-MiniLM-L6-v2/int8``."""
    full: bool
    notes_new: int
    notes_updated: int
    notes_unchanged: int
    notes_removed: int
    chunks_new: int
    chunks_updated: int
    chunks_unchanged: int
    chunks_removed: int
    notes_skipped: int
    chunks_embedded: int
    seconds: float


@dataclass(frozen=True)
class ChunkMatch:
    """A chunk a search returned, with its score (higher is better)."""

    id: str
    path: str
    title: str
    headings: list[str]
    text: str
    note_date: dt.date | None
    tags: list[str]
    score: float


def _chunks_schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            ("id", pa.string()),
            ("path", pa.string()),
            ("folder", pa.string()),
            ("title", pa.string()),
            ("headings", pa.list_(pa.string())),
            ("rank", pa.int32()),
            ("text", pa.string()),
            ("content", pa.string()),
            ("content_hash", pa.string()),
            ("vector", pa.list_(pa.float32(), dim)),
            ("note_date", pa.date32()),
            ("tags", pa.list_(pa.string())),
            ("mtime_ns", pa.int64()),
            ("indexed_at", _TS),
        ]
    )


NOTES = pa.schema(
    [
        ("path", pa.string()),
        ("digest", pa.string()),
        ("mtime_ns", pa.int64()),
        ("size", pa.int64()),
        ("chunks", pa.int32()),
        ("status", pa.string()),
        ("warning", pa.string()),
        ("indexed_at", _TS),
    ]
)
RUNS = pa.schema(
    [(f.name, {"started_at": _TS, "finished_at": _TS, "vault": pa.string(), "model": pa.string(),
               "full": pa.bool_(), "seconds": pa.float64()}.get(f.name, pa.int64()))
     for f in fields(IndexPass)]
)  # fmt: skip


def _arrow(rows: Sequence[Any], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist([vars(r) for r in rows], schema=schema)


def chunk_id(path: str, headings: Sequence[str], rank: int) -> str:
    """A chunk's position in its note; stable while the note keeps that heading."""
    key = "\0".join([path, *headings, str(rank)])
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in(column: str, values: Iterable[str]) -> str:
    return f"{column} IN ({', '.join(_quote(v) for v in values)})"


@dataclass(frozen=True)
class Filters:
    """Restrictions on which notes a search may return; all given ones must hold."""

    folders: tuple[str, ...] = ()
    since: dt.date | None = None
    until: dt.date | None = None
    tags: tuple[str, ...] = ()

    def sql(self) -> str | None:
        parts = []
        if self.folders:
            parts.append(_in("folder", self.folders))
        if self.since:
            parts.append(f"note_date >= date '{self.since.isoformat()}'")
        if self.until:
            parts.append(f"note_date <= date '{self.until.isoformat()}'")
        if self.tags:
            parts.append(f"array_has_any(tags, [{', '.join(_quote(t) for t in self.tags)}])")
        return " AND ".join(parts) or None


_HIT_COLUMNS = ["id", "path", "title", "headings", "text", "note_date", "tags"]


class IndexBusy(RuntimeError):
    """Another process is writing the same index."""


class VaultStore:
    """One vault index directory (``$TENURE_HOME/vault_index`` by default)."""

    def __init__(self, root: Path):
        self.root = root
        self._db: Any = None

    @classmethod
    def for_home(cls, home: Path) -> VaultStore:
        """The index ``tenure vault`` and the agents use: ``$TENURE_HOME/vault_index``."""
        return cls(home / "vault_index")

    @property
    def db(self) -> Any:
        if self._db is None:
            self.root.mkdir(parents=True, exist_ok=True)
            self._db = lancedb.connect(str(self.root))
        return self._db

    def _table(self, name: str) -> Any | None:
        return self.db.open_table(name) if name in self.db.list_tables().tables else None

    def _create(self, name: str, schema: pa.Schema) -> Any:
        return self._table(name) or self.db.create_table(name, schema=schema)

    def exists(self) -> bool:
        return self.root.exists() and "runs" in self.db.list_tables().tables

    @contextlib.contextmanager
    def writer(self) -> Iterator[None]:
        """Exclusive right to write this index (a lock file; released if the process dies)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".writer.lock").open("a+") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                raise IndexBusy(
                    f"another indexer (pid {f.read().strip() or '?'}) is writing {self.root}; "
                    "wait for it to finish"
                ) from None
            f.truncate(0)
            f.write(str(os.getpid()))
            f.flush()
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def drop(self) -> None:
        """Forget every chunk and note (``tenure vault index --full``)."""
        for name in ("chunks", "notes"):
            if name in self.db.list_tables().tables:
                self.db.drop_table(name)

    # -- reading state -------------------------------------------------------------------------

    def note_states(self, paths: Sequence[str] | None = None) -> dict[str, NoteState]:
        """The last indexed state of ``paths`` (default: every known file), by path."""
        notes = self._table("notes")
        if notes is None or paths == []:
            return {}
        rows = (
            notes.to_arrow()
            if paths is None
            else notes.search().where(_in("path", paths)).limit(None).to_arrow()
        )
        return {row["path"]: NoteState(**row) for row in rows.to_pylist()}

    def chunk_hashes(self, paths: Sequence[str]) -> dict[str, str]:
        """Chunk id → content hash for the chunks of ``paths``."""
        chunks = self._table("chunks")
        if chunks is None or not paths:
            return {}
        rows = chunks.search().where(_in("path", paths)).select(["id", "content_hash"]).limit(None).to_arrow()
        return dict(zip(rows["id"].to_pylist(), rows["content_hash"].to_pylist(), strict=True))

    def known_vectors(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Vectors already computed for these contents, anywhere in the index (moved notes included)."""
        chunks = self._table("chunks")
        wanted = sorted(set(hashes))
        if chunks is None or not wanted:
            return {}
        rows = (
            chunks.search().where(_in("content_hash", wanted)).select(["content_hash", "vector"]).limit(None)
        ).to_arrow()
        dim = chunks.schema.field("vector").type.list_size
        vectors = rows["vector"].combine_chunks().flatten().to_numpy().reshape(len(rows), dim)
        return dict(zip(rows["content_hash"].to_pylist(), vectors, strict=True))

    def embedder(self) -> str | None:
        """The embedder that made the index's vectors (from its last pass), or None for a new index."""
        last = self.last_run()
        return last.model if last else None

    # -- writing -------------------------------------------------------------------------------

    def write_batch(self, chunks: list[ChunkRow], vectors: np.ndarray, notes: list[NoteState]) -> None:
        """Make the index hold exactly ``chunks`` (row i's vector is ``vectors[i]``) for the notes in
        ``notes``: one atomic commit."""
        if not notes:
            return
        table = self._table("chunks")
        if table is None:
            if not chunks:  # nothing to write and nothing indexed that could need deleting
                self.upsert_notes(notes)
                return
            table = self.db.create_table("chunks", schema=_chunks_schema(int(vectors.shape[1])))
        schema = table.schema
        data = _arrow(chunks, schema.remove(schema.get_field_index("vector")))
        flat = pa.array(np.asarray(vectors, dtype=np.float32).ravel(), pa.float32())
        column = pa.FixedSizeListArray.from_arrays(flat, schema.field("vector").type.list_size)
        data = data.add_column(schema.get_field_index("vector"), "vector", column).cast(schema)
        (
            table.merge_insert("id")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .when_not_matched_by_source_delete(_in("path", [n.path for n in notes]))
            .execute(data)
        )
        self.upsert_notes(notes)

    def upsert_notes(self, notes: list[NoteState]) -> None:
        """Write note states: after their chunks, or alone for files only touched (no longer stale)."""
        if notes:
            table = self._create("notes", NOTES)
            table.merge_insert("path").when_matched_update_all().when_not_matched_insert_all().execute(
                _arrow(notes, NOTES)
            )

    def remove(self, paths: Sequence[str]) -> None:
        """Forget deleted files: their chunks first, then their note rows."""
        for start in range(0, len(paths), 500):
            part = paths[start : start + 500]
            for name in ("chunks", "notes"):
                if (table := self._table(name)) is not None:
                    table.delete(_in("path", part))

    def refresh(self, ann_min_chunks: int) -> None:
        """Bring the indexes up to date with the writes: full-text always, vectors once the table is big."""
        chunks = self._table("chunks")
        if chunks is None:
            return
        indexed = {i.columns[0]: i for i in chunks.list_indices()}
        if "content" not in indexed:
            chunks.create_index("content", config=FTS(), replace=True)
        if "content_hash" not in indexed:
            chunks.create_index("content_hash", config=BTree())
        if "vector" not in indexed and chunks.count_rows() >= ann_min_chunks:
            chunks.create_index("vector", config=IvfHnswSq(distance_type="cosine"))
        chunks.optimize(cleanup_older_than=dt.timedelta(days=1))
        if (notes := self._table("notes")) is not None:
            notes.optimize(cleanup_older_than=dt.timedelta(days=1))

    def record_run(self, run: IndexPass) -> None:
        self._create("runs", RUNS).add(_arrow([run], RUNS))

    # -- searching -----------------------------------------------------------------------------

    def last_run(self) -> IndexPass | None:
        runs = self._table("runs")
        if runs is None or runs.count_rows() == 0:
            return None
        rows = runs.to_arrow().sort_by([("finished_at", "descending")])
        return IndexPass(**rows.slice(0, 1).to_pylist()[0])

    def count_chunks(self) -> int:
        chunks = self._table("chunks")
        return 0 if chunks is None else chunks.count_rows()

    def search(
        self,
        mode: Literal["keyword", "vector"],
        text: str,
        vector: np.ndarray | None,
        k: int,
        filters: Filters = Filters(),
    ) -> list[ChunkMatch]:
        """The top ``k`` chunks, best first, by BM25 (keyword) or cosine similarity (vector); hybrid
        search fuses the two rankings (``tenure.memory.search``)."""
        chunks = self._table("chunks")
        if chunks is None:
            return []
        if mode == "keyword":
            query = chunks.search(text, query_type="fts", fts_columns="content")
        else:
            # HNSW's default beam (1.5 × k) missed exact neighbours; this beam plus re-ranking the top
            # 2k with full vectors agreed with exact search on 50/50 queries at +2 ms (110k vectors)
            query = chunks.search(vector, query_type="vector").distance_type("cosine")
            query = query.ef(max(256, 2 * k)).refine_factor(2)
        if where := filters.sql():
            query = query.where(where, prefilter=True)
        score = "_score" if mode == "keyword" else "_distance"
        return [
            ChunkMatch(
                id=row["id"],
                path=row["path"],
                title=row["title"],
                headings=list(row["headings"] or ()),
                text=row["text"],
                note_date=row["note_date"],
                tags=list(row["tags"] or ()),
                score=1.0 - row["_distance"] if mode == "vector" else row[score],
            )
            for row in query.select([*_HIT_COLUMNS, score]).limit(k).to_list()
        ]
