"""Searching the vault index: hybrid (BM25 + vectors, fused by rank), vector or keyword.

Keyword search finds exact names and identifiers that embeddings blur; vector search finds notes
that say the same thing in other words. Hybrid runs both, ranks notes (each by its best chunk) in each
list, and fuses the ranks: reciprocal-rank fusion (a note scores the sum of 1/(60 + rank) over the
lists), which needs no calibration between BM25 and cosine scores, plus a bonus for the first-ranked
notes of either list, as qmd does. Plain RRF let a note that only BM25 ranked first (an exact ticket or
invoice id that the vectors blur) sink below notes both lists ranked middling: it found 53 of 67
exact-id notes in the top 5 where keyword search found all 67. With the bonus a first BM25 hit stays
in the top 2: only the two lists' first notes get the largest bonus. This is the function the agents'
``vault_search`` tool calls.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from tenure.memory.embed import embed, precision_of
from tenure.memory.notes import file_digest
from tenure.store.vault import ChunkMatch, Filters, Mode, NoteState, VaultStore

__all__ = ["Hit", "fuse", "search", "snippet"]

_WORD = re.compile(r"[\w'-]{3,}")
MAX_FETCH = 1024
"""Chunks fetched at most when looking for ``k`` different notes."""
RRF_K = 60
TOP_BONUS = (0.05, 0.02, 0.02)
"""Added to a note ranked 1st, 2nd or 3rd in either list (qmd's values): larger than any RRF
difference (at most 2/61), so a list's first note stays in the top 2 whatever the other list says."""


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


def _best_per_note(matches: list[ChunkMatch]) -> list[ChunkMatch]:
    """Each note once, by its best chunk, best first: k hits are k different notes."""
    best: dict[str, ChunkMatch] = {}
    for match in matches:
        best.setdefault(match.path, match)
    return list(best.values())


def fuse(rankings: list[list[ChunkMatch]]) -> list[ChunkMatch]:
    """Notes ranked in several lists, fused: the sum of 1/(RRF_K + rank) plus ``TOP_BONUS`` for the
    note's best rank; each note is shown by its chunk from the list that ranked it highest."""
    score: dict[str, float] = {}
    shown: dict[str, tuple[int, ChunkMatch]] = {}
    for ranking in rankings:
        for rank, match in enumerate(ranking, 1):
            score[match.path] = score.get(match.path, 0.0) + 1 / (RRF_K + rank)
            if match.path not in shown or rank < shown[match.path][0]:
                shown[match.path] = (rank, match)
    for path, (rank, _) in shown.items():
        score[path] += TOP_BONUS[rank - 1] if rank <= len(TOP_BONUS) else 0.0
    order = sorted(score, key=lambda path: (-score[path], shown[path][0]))
    return [replace(shown[path][1], score=score[path]) for path in order]


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
    lists = ("keyword", "vector") if mode == "hybrid" else (mode,)
    fetch = k * 4  # chunks per note vary: widen the net until k different notes are in it
    while True:
        found = [store.search(m, query, vector, fetch, filters) for m in lists]
        ranked = [_best_per_note(matches) for matches in found]
        best = ranked[0] if len(ranked) == 1 else fuse(ranked)
        if len(best) >= k or all(len(m) < fetch for m in found) or fetch >= MAX_FETCH:
            break
        fetch *= 4
    chosen = best[:k]
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
