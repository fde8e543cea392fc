"""Answers as Telegram messages: split under the 4,096-character limit on paragraph boundaries, and the
model's Markdown (code, bold, links) rendered as the HTML subset Telegram accepts, everything else
escaped. A chunk Telegram still refuses to parse is resent as plain text by the sender."""

from __future__ import annotations

import html
import re

__all__ = ["LIMIT", "split_message", "to_html"]

LIMIT = 4096
"""Telegram's limit on one message's text, in characters after formatting is parsed."""

_FENCE = re.compile(r"```[A-Za-z0-9_+-]*\n(.*?)```", re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s\"]+)\)")


def to_html(text: str) -> str:
    """Telegram HTML for ``text``: fenced and inline code, bold and http(s) links; the rest escaped."""
    held: list[str] = []

    def hold(rendered: str) -> str:
        held.append(rendered)
        return f"\x00{len(held) - 1}\x00"

    text = _FENCE.sub(lambda m: hold(f"<pre>{html.escape(m.group(1), quote=False)}</pre>"), text)
    text = _INLINE_CODE.sub(lambda m: hold(f"<code>{html.escape(m.group(1), quote=False)}</code>"), text)
    text = html.escape(text, quote=False)
    text = _LINK.sub(r'<a href="\2">\1</a>', text)  # already escaped; the URL holds no quote
    text = _BOLD.sub(r"<b>\1</b>", text)
    return re.sub("\x00(\\d+)\x00", lambda m: held[int(m.group(1))], text)


def split_message(text: str, limit: int = LIMIT) -> list[str]:
    """Cut ``text`` into messages of at most ``limit`` characters, in order: at paragraph breaks where
    possible, else at line breaks, then spaces, and only then mid-word. Rendering a chunk as HTML can
    lengthen it, so chunks are sized to fit after :func:`to_html` too."""
    chunks: list[str] = []
    rest = text.strip()
    while rest:
        if _fits(rest, limit):
            chunks.append(rest)
            break
        cut = _cut(rest, limit)
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return chunks


def _fits(text: str, limit: int) -> bool:
    return len(text) <= limit and len(to_html(text)) <= limit


def _cut(text: str, limit: int) -> int:
    """The longest prefix ending at the best kind of boundary that still fits."""
    size = limit
    while size > 1 and not _fits(text[:size], limit):
        size = size * 9 // 10
    window = text[:size]
    for boundary in ("\n\n", "\n", " "):
        at = window.rfind(boundary)
        if at > size // 4:
            return at + len(boundary)
    return size
