"""Incremental indexing of a vault: plan what changed, then index it batch by batch.

``plan`` compares the files on disk with the index's note states using ``stat`` only, so an
unchanged vault of 10,000 notes is checked in well under a second. ``index_batch`` reads, chunks and
embeds one batch of changed files and writes it in one commit; a chunk whose content hash is
already in the index (an unchanged section of an edited note, a moved note) reuses its vector. The
counts in the ``Report`` say what happened to notes and chunks. An index is made by one embedder
(``vault.precision``); when the setting changes, the next pass rebuilds the index rather than mix
vectors of two models.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from tenure.config import VaultConfig
from tenure.memory.chunker import chunk_text
from tenure.memory.embed import embed, embedder_name
from tenure.memory.notes import FileState, Note, Unreadable, read_note, scan
from tenure.store.vault import ChunkRow, IndexPass, NoteState, VaultStore, chunk_id

__all__ = [
    "Changes",
    "Plan",
    "Report",
    "batches",
    "changes",
    "finished_pass",
    "index_batch",
    "plan",
    "remove_deleted",
    "start_pass",
]


@dataclass
class Report:
    """What one index pass changed. Notes are files; ``skipped`` ones could not be read as text."""

    notes_new: int = 0
    notes_updated: int = 0
    notes_unchanged: int = 0
    notes_removed: int = 0
    notes_skipped: int = 0
    chunks_new: int = 0
    chunks_updated: int = 0
    chunks_unchanged: int = 0
    chunks_removed: int = 0
    chunks_embedded: int = 0
    warnings: list[str] = field(default_factory=list)

    def __iadd__(self, other: Report) -> Report:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    def counts(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "warnings"}


@dataclass
class Plan:
    """Files to (re)read, and what needs no reading at all."""

    root: Path
    todo: list[FileState]
    known: dict[str, NoteState]
    """The index's note states at plan time, by path (a file in ``todo`` not among them is new); the
    pass holds the writer lock, so they stay current for its batches."""
    unchanged: int
    deleted: list[str]
    full: bool = False
    """Whether the pass starts from an empty index (asked for, or the embedder changed)."""
    warnings: list[str] = field(default_factory=list)


def plan(root: Path, store: VaultStore, config: VaultConfig, *, full: bool = False) -> Plan:
    """Which files changed since the last pass, judged by size and mtime (bytes are checked later).
    Reads only: ``start_pass`` acts on it.

    ``full`` (or an index made by another embedder than ``config.precision``'s) starts from nothing."""
    if not root.is_dir():
        raise FileNotFoundError(f"vault folder {root} does not exist; pass an existing folder of .md notes")
    warnings = []
    made_by, wanted = store.embedder(), embedder_name(config.precision)
    if made_by is not None and made_by != wanted and not full:
        warnings.append(
            f"the index was made by {made_by}, vault.precision asks for {wanted}: re-embedding all"
        )
        full = True
    if store.outdated() and not full:
        warnings.append("the index was written by an older tenure in another layout: rebuilding it")
        full = True
    states = {} if full else store.note_states()
    todo, unchanged = [], 0
    on_disk = set()
    for state in scan(root, config.ignore, follow_links=config.follow_links, warnings=warnings):
        on_disk.add(state.path)
        old = states.get(state.path)
        if old and old.mtime_ns == state.mtime_ns and old.size == state.size:
            unchanged += 1
        else:
            todo.append(state)
    return Plan(root, todo, states, unchanged, sorted(set(states) - on_disk), full, warnings)


def start_pass(plan: Plan, store: VaultStore) -> None:
    """Empty the index first when the plan starts from nothing."""
    if plan.full:
        store.drop()


@dataclass(frozen=True)
class Changes:
    """Files on disk that differ from the index (what the next pass will pick up), and skipped ones."""

    changed: list[str]
    new: list[str]
    deleted: list[str]
    skipped: list[str]


def changes(root: Path, store: VaultStore, config: VaultConfig) -> Changes:
    """What changed in ``root`` since the last pass, by ``stat`` (``tenure vault status``)."""
    pending = plan(root, store, config)
    return Changes(
        changed=[f.path for f in pending.todo if f.path in pending.known],
        new=[f.path for f in pending.todo if f.path not in pending.known],
        deleted=pending.deleted,
        skipped=sorted(p for p, s in pending.known.items() if s.status == "skipped"),
    )


def batches(files: list[FileState], config: VaultConfig) -> list[list[FileState]]:
    """Group files into batches of about ``batch_chunks`` chunks, estimated from their sizes."""
    out: list[list[FileState]] = []
    current: list[FileState] = []
    estimate = 0
    per_chunk = config.chunk_chars * 0.7
    for state in files:
        size = min(state.size, config.max_note_bytes)
        chunks = 1 + int(size / per_chunk)
        if current and estimate + chunks > config.batch_chunks:
            out.append(current)
            current, estimate = [], 0
        current.append(state)
        estimate += chunks
    return out + ([current] if current else [])


def _note_state(item: Note | Unreadable, chunks: int, now: dt.datetime) -> NoteState:
    if isinstance(item, Unreadable):
        return NoteState(item.path, item.digest, item.mtime_ns, item.size, 0, "skipped", item.reason, now)
    warning = "; ".join(item.warnings) or None
    return NoteState(item.path, item.digest, item.mtime_ns, item.size, chunks, "indexed", warning, now)


def index_batch(
    root: Path,
    files: list[FileState],
    known: dict[str, NoteState],
    store: VaultStore,
    config: VaultConfig,
) -> Report:
    """Read, chunk, embed and write one batch; safe to repeat after a crash or a retry."""
    report = Report()
    now = dt.datetime.now(dt.UTC)
    items: list[Note | Unreadable] = []
    touched: list[NoteState] = []
    for state in files:
        try:
            item = read_note(root, state, config.max_note_bytes)
        except FileNotFoundError:  # deleted since the plan; the next pass removes it
            continue
        except OSError as exc:  # unreadable (permissions, I/O): this note only, never the pass
            report.warnings.append(f"{state.path}: not read: {exc.strerror or exc}")
            continue
        old = known.get(state.path)
        if old and old.digest == item.digest:  # touched, not changed
            report.notes_unchanged += 1
            touched.append(NoteState(**{**vars(old), "mtime_ns": item.mtime_ns, "size": item.size}))
            continue
        items.append(item)

    chunks: list[ChunkRow] = []
    notes: list[NoteState] = []
    for item in items:
        if isinstance(item, Unreadable):
            report.notes_skipped += 1
            report.warnings.append(f"{item.path}: skipped: {item.reason}")
            notes.append(_note_state(item, 0, now))
            continue
        report.warnings += item.warnings
        if item.path in known:
            report.notes_updated += 1
        else:
            report.notes_new += 1
        pieces = chunk_text(item.title, item.body, max_chars=config.chunk_chars, overlap=config.chunk_overlap)
        notes.append(_note_state(item, len(pieces), now))
        chunks += [
            ChunkRow(
                id=chunk_id(item.path, c.headings, c.rank),
                path=item.path,
                folder=item.folder,
                title=item.title,
                headings=list(c.headings),
                rank=c.rank,
                text=c.text,
                content=c.embed_text,
                content_hash=c.content_hash,
                note_date=item.date,
                tags=list(item.tags),
            )
            for c in pieces
        ]

    old = store.chunk_hashes([n.path for n in notes])
    new_ids = {c.id for c in chunks}
    for c in chunks:
        if c.id not in old:
            report.chunks_new += 1
        elif old[c.id] != c.content_hash:
            report.chunks_updated += 1
        else:
            report.chunks_unchanged += 1
    report.chunks_removed += len(set(old) - new_ids)

    vectors = store.known_vectors(c.content_hash for c in chunks)
    missing = list(dict.fromkeys(c.content for c in chunks if c.content_hash not in vectors))
    if missing:
        fresh = dict(zip(missing, embed(missing, precision=config.precision), strict=True))
        for c in chunks:
            if c.content_hash not in vectors:
                vectors[c.content_hash] = fresh[c.content]
        report.chunks_embedded += len(missing)
    matrix = np.stack([vectors[c.content_hash] for c in chunks]) if chunks else np.zeros((0, 0), np.float32)
    store.write_batch(chunks, matrix, notes)
    store.upsert_notes(touched)
    return report


def remove_deleted(plan: Plan, store: VaultStore) -> Report:
    """Forget the files that are gone from disk."""
    store.remove(plan.deleted)
    return Report(
        notes_removed=len(plan.deleted), chunks_removed=sum(plan.known[p].chunks for p in plan.deleted)
    )


def finished_pass(plan: Plan, report: Report, config: VaultConfig, *, started: dt.datetime) -> IndexPass:
    """The record of a finished pass."""
    finished = dt.datetime.now(dt.UTC)
    return IndexPass(
        started_at=started,
        finished_at=finished,
        vault=str(plan.root.resolve()),
        model=embedder_name(config.precision),
        full=plan.full,
        **report.counts(),
        seconds=(finished - started).total_seconds(),
    )
