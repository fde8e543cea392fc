"""The vault index's rows (chunks, note states, passes, matches) and their Arrow schemas.

Kept apart from ``tenure.store.vault``, which reads and writes them, so the types can be read alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Literal

import pyarrow as pa

__all__ = [
    "NOTES",
    "RUNS",
    "ChunkMatch",
    "ChunkRow",
    "IndexPass",
    "Mode",
    "NoteState",
    "chunk_id",
    "chunks_schema",
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
    """What was embedded and keyword-indexed: title, heading path, then ``text`` (stored as its tail)."""
    content_hash: str
    note_date: dt.date | None
    tags: list[str]


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


def chunks_schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            ("id", pa.string()),
            ("path", pa.string()),
            ("folder", pa.string()),
            ("title", pa.string()),
            ("headings", pa.list_(pa.string())),
            ("rank", pa.int32()),
            ("content", pa.string()),
            ("text_start", pa.int32()),
            ("content_hash", pa.string()),
            ("vector", pa.list_(pa.float16(), dim)),
            ("note_date", pa.date32()),
            ("tags", pa.list_(pa.string())),
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


def chunk_id(path: str, headings: Sequence[str], rank: int) -> str:
    """A chunk's position in its note; stable while the note keeps that heading."""
    key = "\0".join([path, *headings, str(rank)])
    return hashlib.sha256(key.encode()).hexdigest()[:24]
