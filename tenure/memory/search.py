"""Searching the vault index: hybrid (BM25 + vectors, reciprocal-rank fusion), vector or keyword.

Keyword search finds exact names and identifiers that embeddings blur; vector search finds notes
that say the same thing in other words. Hybrid runs both and fuses their rankings with
reciprocal-rank fusion (score = sum of 1/(60 + rank)), which needs no score calibration between
the two. This is the function the agents' ``vault_search`` tool calls.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tenure.memory.embed import embed, precision_of
from tenure.memory.notes import file_digest
from tenure.store.vault import ChunkMatch, Filters, Mode, NoteState, VaultStore

__all__ = ["Hit", "search", "snippet"]

_WORD = re.compile(r"[\w'-]{3,}")
MAX_FETCH = 1024
"""Chunks fetched at most when looking for ``k`` different notes."""


@dataclass(frozen=True)
class Hit:
    """One matching note, shown by its best chunk."""

    path: str
    title: str
    headings: tuple[str, ...]
    snippet: str
    score: float
    date: dt.date | None
    tags: tuple[str, ...]
    stale: bool
    """The file changed (or vanished) on disk since it was indexed: re-read it before trusting it."""
    text: str

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["date"] = self.date.isoformat() if self.date else None
        out["headings"], out["tags"] = list(self.headings), list(self.tags)
        return out


def snippet(text: str, query: str, width: int = 240) -> str:
    """The ``width``-character window of ``text`` with the most query words, cut at spaces."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    terms = {w.lower() for w in _WORD.findall(query)}
    lower = flat.lower()
    hits = sorted(m.start() for t in terms for m in re.finditer(re.escape(t), lower))
    best, best_count = 0, 0
    for start in hits:
        count = sum(1 for h in hits if start <= h < start + width)
        if count > best_count:
            best, best_count = max(0, start - width // 4), count
    best = min(best, len(flat) - width)
    if best > 0:
        best = flat.find(" ", best) + 1 or best
    window = flat[best : best + width]
    if best + width < len(flat):
        window = window[: window.rfind(" ")] if " " in window else window
    return ("… " if best > 0 else "") + window + (" …" if best + len(window) < len(flat) else "")


def _stale(vault: Path | None, state: NoteState | None, path: str) -> bool:
    if vault is None or state is None:
        return True
    try:
        st = (vault / path).stat()
    except FileNotFoundError:
        return True
    if st.st_mtime_ns == state.mtime_ns and st.st_size == state.size:
        return False
    return file_digest(vault / path) != state.digest


def search(
    store: VaultStore,
    query: str,
    k: int = 5,
    *,
    mode: Mode = "hybrid",
    folders: tuple[str, ...] = (),
    since: dt.date | None = None,
    until: dt.date | None = None,
    tags: tuple[str, ...] = (),
) -> list[Hit]:
    """The ``k`` best notes for ``query`` (each by its best chunk) among notes matching every filter."""
    if not query.strip():
        raise ValueError("the search query is empty; say what you are looking for")
    if k < 1:
        raise ValueError(f"k must be at least 1 (got {k})")
    if mode not in ("hybrid", "vector", "keyword"):
        raise ValueError(f"unknown search mode {mode!r}; expected hybrid, vector or keyword")
    last = store.last_run()
    precision = precision_of(last.model if last else None)  # the query is embedded as the index was
    vector = embed([query], precision=precision)[0] if mode != "keyword" else None
    filters = Filters(tuple(folders), since, until, tuple(tags))
    fetch = k * 4  # chunks per note vary: widen the net until k different notes are in it
    while True:
        matches = store.search(mode, query, vector, fetch, filters)
        best: dict[str, ChunkMatch] = {}
        for match in matches:  # the best chunk of each note: k hits are k different notes
            best.setdefault(match.path, match)
        if len(best) >= k or len(matches) < fetch or fetch >= MAX_FETCH:
            break
        fetch *= 4
    chosen = list(best.values())[:k]
    vault = Path(last.vault) if last else None
    paths = sorted({m.path for m in chosen})
    states = store.note_states(paths)
    stale = {p: _stale(vault, states.get(p), p) for p in paths}
    return [
        Hit(
            path=m.path,
            title=m.title,
            headings=tuple(m.headings),
            snippet=snippet(m.text, query),
            score=round(float(m.score), 6),
            date=m.note_date,
            tags=tuple(m.tags),
            stale=stale[m.path],
            text=m.text,
        )
        for m in chosen
    ]
