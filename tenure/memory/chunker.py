"""Heading-aware chunks of bounded size with overlap; a fenced code block is never split.

A note is cut into sections at its headings (``#`` lines inside code fences are code, not
headings). A section's paragraphs, lists and code blocks are packed into chunks of at most
``max_chars``; the next chunk of the same section starts with the last ``overlap`` characters of
the one before, so a sentence that straddles the cut is found from both sides. A paragraph longer
than a chunk is cut at sentence (then word) boundaries. A code block longer than a chunk stays
whole, in a chunk of its own: half a function helps nobody.

Each chunk is embedded and keyword-indexed as ``title`` + heading path + text, so "the decision
about DuckDB" finds a section whose own words never repeat the heading.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

__all__ = ["Chunk", "chunk_text"]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Chunk:
    """One piece of a note, positioned by its heading path and its rank under that path."""

    headings: tuple[str, ...]
    rank: int
    """0 for the first chunk under ``headings``, 1 for the next… (a note's chunk key is headings + rank)."""
    text: str
    embed_text: str
    """What is embedded and keyword-indexed: title, heading path, text."""

    @property
    def content_hash(self) -> str:
        """Equal for equal ``embed_text``: the vector is reused instead of recomputed."""
        return hashlib.sha256(self.embed_text.encode()).hexdigest()[:32]


@dataclass
class _Block:
    text: str
    code: bool


def _sections(body: str) -> list[tuple[tuple[str, ...], list[_Block]]]:
    """Split the body at headings into (heading path, blocks); fences are single blocks."""
    sections: list[tuple[tuple[str, ...], list[_Block]]] = [((), [])]
    path: list[tuple[int, str]] = []
    para: list[str] = []
    fence: str | None = None
    code: list[str] = []

    def flush() -> None:
        if para:
            sections[-1][1].append(_Block("\n".join(para).strip(), False))
            para.clear()

    for line in body.splitlines():
        if fence is not None:
            code.append(line)
            m = _FENCE.match(line)
            if (
                m
                and m.group(1)[0] == fence[0]
                and len(m.group(1)) >= len(fence)
                and not line.strip()[len(m.group(1)) :]
            ):
                sections[-1][1].append(_Block("\n".join(code), True))
                fence, code = None, []
            continue
        if m := _FENCE.match(line):
            flush()
            fence, code = m.group(1), [line]
        elif m := _HEADING.match(line):
            flush()
            level = len(m.group(1))
            path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, m.group(2))]
            sections.append((tuple(h for _, h in path), []))
        elif line.strip():
            para.append(line)
        else:
            flush()
    flush()
    if fence is not None:  # an unclosed fence runs to the end of the note, as renderers show it
        sections[-1][1].append(_Block("\n".join(code), True))
    return [(h, blocks) for h, blocks in sections if any(b.text.strip() for b in blocks)]


def _split_long(text: str, limit: int) -> list[str]:
    """Cut prose longer than ``limit`` at line ends, then sentence ends, then spaces."""
    if len(text) <= limit:
        return [text]
    units: list[tuple[str, str]] = []  # (piece, separator before it)
    for line in text.split("\n"):
        sentences = _SENTENCE_END.split(line) if len(line) > limit else [line]
        for i, sentence in enumerate(sentences):
            while len(sentence) > limit:
                cut = sentence.rfind(" ", 0, limit)
                cut = cut if cut > limit // 2 else limit
                units.append((sentence[:cut], " " if i else "\n"))
                sentence, i = sentence[cut:].lstrip(), 1
            units.append((sentence, " " if i else "\n"))
    pieces: list[str] = []
    current = ""
    for piece, sep in units:
        if current and len(current) + 1 + len(piece) > limit:
            pieces.append(current)
            current = piece
        else:
            current = f"{current}{sep}{piece}" if current else piece
    return pieces + ([current] if current else [])


def _tail(text: str, overlap: int) -> str:
    """The last ``overlap`` characters of ``text``, starting at a word boundary."""
    if overlap <= 0 or len(text) <= overlap:
        return text if overlap > 0 else ""
    tail = text[-overlap:]
    space = tail.find(" ")
    return tail[space + 1 :] if 0 <= space < len(tail) - 1 else tail


def _pack(blocks: list[_Block], max_chars: int, overlap: int) -> list[str]:
    """One section's blocks packed into chunk texts, each starting with the previous one's tail."""
    texts: list[str] = []
    current: list[_Block] = []
    carry = ""

    def emit() -> None:
        nonlocal carry
        texts.append("\n\n".join(([carry] if carry else []) + [b.text for b in current]))
        carry = "" if current[-1].code else _tail(current[-1].text, overlap)
        current.clear()

    for block in blocks:
        parts = (
            [block]
            if block.code
            else [_Block(t, False) for t in _split_long(block.text, max_chars - overlap)]
        )
        for part in parts:
            if current and len(carry) + sum(len(b.text) + 2 for b in current) + len(part.text) > max_chars:
                emit()
            if part.code and len(part.text) > max_chars - len(carry):
                carry = ""  # a long code block stands alone, without a prose prefix
            current.append(part)
    if current:
        emit()
    return texts


def chunk_text(title: str, body: str, *, max_chars: int = 800, overlap: int = 100) -> list[Chunk]:
    """The chunks of one note, in reading order."""
    chunks: list[Chunk] = []
    ranks: dict[tuple[str, ...], int] = {}  # two sections with the same heading path share one count
    for headings, blocks in _sections(body):
        prefix = "\n".join([title, " > ".join(headings)] if headings else [title])
        for text in _pack(blocks, max_chars, overlap):
            rank = ranks[headings] = ranks.get(headings, -1) + 1
            chunks.append(Chunk(headings, rank, text, f"{prefix}\n\n{text}"))
    return chunks
