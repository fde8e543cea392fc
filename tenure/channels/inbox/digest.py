"""The digest of what triage found: messages grouped by label (urgent first), each with its one-line
summary and action items, suspected injection attempts marked, and which models served."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime
from pathlib import Path

from tenure.store import TriageRow

__all__ = ["append_to_daily_note", "digest_text"]

ORDER = ("urgent", "reply_needed", "fyi", "receipt", "newsletter", "spam")
_SAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _clean(text: str | None, limit: int = 160) -> str:
    """A header or summary as a digest line: one line, control characters gone, bounded."""
    return _SAFE.sub("", " ".join((text or "").split()))[:limit]


def digest_text(rows: list[TriageRow], since: datetime, labels: list[str]) -> str:
    """Plain text (Markdown-friendly): a title line, then one section per label that has mail."""
    if not rows:
        return f"Inbox digest since {since:%Y-%m-%d %H:%M}: no new mail triaged."
    order = [lbl for lbl in ORDER if lbl in labels] + [lbl for lbl in labels if lbl not in ORDER]
    groups: dict[str, list[TriageRow]] = {}
    for row in rows:
        groups.setdefault(row.label or ("not triaged" if row.error else "unsorted"), []).append(row)
    flagged = sum(r.suspected_injection for r in rows)
    served = Counter(m for r in rows for m in (r.served_by or {}).values() if m)
    lines = [f"Inbox digest since {since:%Y-%m-%d %H:%M}: {len(rows)} message(s)"
             + (f", {flagged} flagged as possible prompt injection" if flagged else "")]  # fmt: skip
    for name in [*order, "unsorted", "not triaged"]:
        if name not in groups:
            continue
        lines += ["", f"## {name.replace('_', ' ')} ({len(groups[name])})"]
        for row in groups[name]:
            flag = " ⚠ possible prompt injection" if row.suspected_injection else ""
            lines.append(f"- {_clean(row.sender, 60)}: {_clean(row.subject, 100)}{flag}")
            if row.summary:
                lines.append(f"  {_clean(row.summary, 240)}")
            lines += [f"  → {_clean(item, 160)}" for item in (row.action_items or [])[:5]]
            if row.error:
                lines.append(f"  (not triaged: {_clean(row.error, 160)})")
    if served:
        lines += ["", "Served by: " + ", ".join(f"{m} ({n})" for m, n in served.most_common())]
    return "\n".join(lines)


def append_to_daily_note(vault: Path, day: date, text: str) -> Path:
    """Add the digest to ``daily/YYYY-MM-DD.md`` in the vault (created if missing), as its own section."""
    note = vault / "daily" / f"{day:%Y-%m-%d}.md"
    note.parent.mkdir(parents=True, exist_ok=True)
    existing = note.read_text(encoding="utf-8") if note.exists() else f"# {day:%Y-%m-%d}\n"
    body = text.split("\n", 1)
    section = f"\n## {body[0]}\n" + (body[1].replace("\n## ", "\n### ") if len(body) > 1 else "") + "\n"
    note.write_text(existing.rstrip("\n") + "\n" + section, encoding="utf-8")
    return note
