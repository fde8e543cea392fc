"""The vault index on LanceDB: a table of chunks with vectors and a full-text index, plus note states.

Tables under ``root`` (a LanceDB directory):

- ``chunks``: one row per chunk: id, path, folder, title, heading path, rank, the embedded
  ``content`` (title + headings + text; the text is its tail from ``text_start``, so it is stored once)
  with its hash, the vector (float16: exact search ranks as with float32, at half the bytes), note
  date, tags. A full-text (BM25) index covers ``content``.
- ``notes``: one row per file seen (indexed or skipped): digest, mtime, size, chunk count, so an
  unchanged file is recognised from a ``stat`` alone and a bad file is not re-read every night.
- ``runs``: one row per index pass with its change counts.

Rows are typed (``ChunkRow``, ``NoteState``, ``IndexPass``); the store knows nothing of how vectors are
made: the vector width of the ``chunks`` table is that of the first vectors written to it.

Disk: a pass ends by compacting the tables and deleting every older version, so an index holds one
copy of its data (it held two for a day: the batch fragments and their compacted copy). A search
that opened the table just before that cleanup finds its files gone; it reopens the table and runs
again (``_read``). Only the indexer writes, under the writer lock.

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
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.index import FTS, BTree, IvfHnswSq

from tenure.store.vault_rows import (
    NOTES,
    RUNS,
    ChunkMatch,
    ChunkRow,
    IndexPass,
    Mode,
    NoteState,
    chunk_id,
    chunks_schema,
)

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

T = TypeVar("T")


def _arrow(rows: Sequence[Any], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist([vars(r) for r in rows], schema=schema)


def _chunk_table(chunks: Sequence[ChunkRow], vectors: np.ndarray, schema: pa.Schema) -> pa.Table:
    """The rows of ``chunks`` as stored: the text as an offset into the content, vectors in float16."""
    rows = []
    for chunk in chunks:
        row = vars(chunk).copy()
        text = row.pop("text")
        if not chunk.content.endswith(text):
            raise ValueError(f"chunk {chunk.id} of {chunk.path}: its content does not end with its text")
        rows.append({**row, "text_start": len(chunk.content) - len(text)})
    dim = schema.field("vector").type.list_size
    flat = pa.array(np.asarray(vectors, dtype=np.float16).ravel(), pa.float16())
    vector = pa.FixedSizeListArray.from_arrays(flat, dim)
    data = pa.Table.from_pylist(rows, schema=schema.remove(schema.get_field_index("vector")))
    return data.add_column(schema.get_field_index("vector"), "vector", vector).cast(schema)


def _gone(error: RuntimeError) -> bool:
    """Whether a read failed because a cleanup deleted the files of the version it had opened."""
    return "Not found" in str(error)


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


_HIT_COLUMNS = ["id", "path", "title", "headings", "content", "text_start", "note_date", "tags"]


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

    def outdated(self) -> bool:
        """Whether the chunks were written in an older layout (before ``text_start``): rebuild it."""
        chunks = self._table("chunks")
        return chunks is not None and "text_start" not in chunks.schema.names

    def _read(self, name: str, read: Callable[[Any], T]) -> T | None:
        """``read(table)`` (None without the table), once more on a fresh handle if the cleanup at the
        end of a pass deleted the files of the version this one had opened."""
        table = self._table(name)
        if table is None:
            return None
        try:
            return read(table)
        except RuntimeError as error:
            if not _gone(error):
                raise
        table = self._table(name)
        return None if table is None else read(table)

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
        if paths == []:
            return {}
        rows = self._read(
            "notes",
            lambda notes: (
                notes.to_arrow()
                if paths is None
                else notes.search().where(_in("path", paths)).limit(None).to_arrow()
            ),
        )
        return {} if rows is None else {row["path"]: NoteState(**row) for row in rows.to_pylist()}

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
            table = self.db.create_table("chunks", schema=chunks_schema(int(vectors.shape[1])))
        data = _chunk_table(chunks, vectors, table.schema)
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
        """Compact the pass's batch commits and drop old versions, then bring the indexes up to date:
        full-text always, vectors once the table is big. Compacting before a first index build spares
        remapping it (a 110k-chunk pass: 0.6 s instead of 1.9 s, 230 MB less at its peak)."""
        chunks = self._table("chunks")
        if chunks is None:
            return
        self._optimize(chunks)
        indexed = {i.columns[0]: i for i in chunks.list_indices()}
        if "content" not in indexed:
            chunks.create_index("content", config=FTS(), replace=True)
        if "content_hash" not in indexed:
            chunks.create_index("content_hash", config=BTree())
        if "vector" not in indexed and chunks.count_rows() >= ann_min_chunks:
            chunks.create_index("vector", config=IvfHnswSq(distance_type="cosine"))
        self._optimize(chunks)
        if (notes := self._table("notes")) is not None:
            self._optimize(notes, twice=True)

    @staticmethod
    def _optimize(table: Any, *, twice: bool = False) -> None:
        """Compact, delete every older version, update the indexes. The index update commits a version
        after the cleanup; a second call (or the next one) deletes it."""
        with warnings.catch_warnings():  # that readers of a deleted version fail: ours read again
            warnings.filterwarnings("ignore", "optimize.cleanup_older_than=0", UserWarning)
            for _ in range(2 if twice else 1):
                table.optimize(cleanup_older_than=dt.timedelta(0))

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

        def run(chunks: Any) -> list[dict[str, Any]]:
            if "text_start" not in chunks.schema.names:  # the table is open: no second look (outdated())
                raise ValueError(
                    f"the vault index at {self.root} was written by an older tenure: "
                    "rebuild it with tenure vault index --full (the nightly vault_embed does it too)"
                )
            if mode == "keyword":
                query = chunks.search(text, query_type="fts", fts_columns="content")
            else:
                # HNSW's default beam (1.5 × k) missed exact neighbours; this beam plus re-ranking the
                # top 2k with full vectors agreed with exact search on 50/50 queries at +2 ms (110k)
                query = chunks.search(vector, query_type="vector").distance_type("cosine")
                query = query.ef(max(256, 2 * k)).refine_factor(2)
            if where := filters.sql():
                query = query.where(where, prefilter=True)
            return query.select([*_HIT_COLUMNS, score]).limit(k).to_list()

        score = "_score" if mode == "keyword" else "_distance"
        return [
            ChunkMatch(
                id=row["id"],
                path=row["path"],
                title=row["title"],
                headings=list(row["headings"] or ()),
                text=row["content"][row["text_start"] :],
                note_date=row["note_date"],
                tags=list(row["tags"] or ()),
                score=1.0 - row["_distance"] if mode == "vector" else row[score],
            )
            for row in self._read("chunks", run) or []
        ]
