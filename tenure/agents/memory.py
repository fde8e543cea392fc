"""The team's shared MEMORY.md: dated entries appended safely from many processes, read newest first.

Several agent turns (each a Prefect flow run, possibly in its own worker process) may append at the
same moment. Each entry is written with one ``write`` on a file opened with ``O_APPEND`` while holding
an exclusive ``flock``, then fsynced: entries never interleave, none is lost, and a crash leaves at
most a missing last entry, never half of one in the middle.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import re
from pathlib import Path

__all__ = ["MAX_ENTRY_CHARS", "append_entry", "read_memory"]

MAX_ENTRY_CHARS = 4000
_ENTRY = re.compile(r"^## (\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC · (\S+)\n", re.M)


def append_entry(path: Path, agent: str, text: str, now: dt.datetime | None = None) -> str:
    """Append one entry; returns its heading line. Refuses empty or over-long text with a clear error."""
    body = text.strip()
    if not body:
        raise ValueError("the memory entry is empty; write the fact or decision to remember")
    if len(body) > MAX_ENTRY_CHARS:
        raise ValueError(f"the memory entry has {len(body):,} characters; keep it under {MAX_ENTRY_CHARS:,}")
    body = re.sub(r"^## ", "### ", body, flags=re.M)  # an entry cannot fake the start of another
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M")
    heading = f"## {stamp} UTC · {agent}"
    data = f"\n{heading}\n\n{body}\n".encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)  # closing releases the lock
    return heading


def read_memory(path: Path, budget_chars: int = 6000) -> str:
    """The entries newest first, as many as fit in ``budget_chars``, with a note of how many were left out."""
    if not path.exists():
        return "(MEMORY.md does not exist yet)"
    text = path.read_text(encoding="utf-8", errors="replace")
    starts = [m.start() for m in _ENTRY.finditer(text)]
    if not starts:
        return text[:budget_chars]
    entries = [text[a:b].strip() for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
    shown: list[str] = []
    used = 0
    for entry in reversed(entries):
        if used + len(entry) > budget_chars and shown:
            break
        shown.append(entry[:budget_chars])
        used += len(entry) + 2
    left = len(entries) - len(shown)
    return "\n\n".join(shown) + (f"\n\n({left} older entries not shown)" if left else "")
