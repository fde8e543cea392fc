"""The digest in the vault: appended to the day's daily note (the digest's text is
``tenure.store.inbox.digest_text``)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

__all__ = ["append_to_daily_note"]


def append_to_daily_note(vault: Path, day: date, text: str) -> Path:
    """Add the digest to ``daily/YYYY-MM-DD.md`` in the vault (created if missing), as its own section."""
    note = vault / "daily" / f"{day:%Y-%m-%d}.md"
    note.parent.mkdir(parents=True, exist_ok=True)
    existing = note.read_text(encoding="utf-8") if note.exists() else f"# {day:%Y-%m-%d}\n"
    body = text.split("\n", 1)
    section = f"\n## {body[0]}\n" + (body[1].replace("\n## ", "\n### ") if len(body) > 1 else "") + "\n"
    note.write_text(existing.rstrip("\n") + "\n" + section, encoding="utf-8")
    return note
