"""The ``triage`` table's named queries: where an inbox pass resumes, which messages it has seen, and
what a digest reads; and the digest's text (the flows send it, Liv's ``inbox_digest`` tool reads it).
The table itself is ``rows.TriageRow``; these are the only SQL run on it."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime

from tenure.store.log import ScoreLog
from tenure.store.rows import TriageRow

__all__ = ["digest_text", "last_uid", "triaged", "triaged_since"]


def last_uid(log: ScoreLog, account: str, uidvalidity: int) -> int:
    """The highest UID recorded for this account and UIDVALIDITY (0: none), where the next pass starts."""
    sql = "SELECT coalesce(max(uid), 0) FROM triage WHERE account = ? AND uidvalidity = ?"
    _, rows = log.query(sql, [account, uidvalidity])
    return int(rows[0][0])


def triaged(log: ScoreLog, account: str) -> dict[str, str]:
    """Message-ID → triage id of every message of the account triaged under any UIDVALIDITY."""
    _, rows = log.query(
        "SELECT message_id, any_value(triage_id) FROM triage"
        " WHERE account = ? AND duplicate_of IS NULL GROUP BY message_id",
        [account],
    )
    return {str(message_id): str(triage_id) for message_id, triage_id in rows}


def triaged_since(log: ScoreLog, since: datetime) -> list[TriageRow]:
    """Messages triaged since ``since`` (repeats after a UIDVALIDITY change left out), newest first."""
    records = log.records(
        "SELECT * FROM triage WHERE ts >= ? AND duplicate_of IS NULL ORDER BY date DESC NULLS LAST", [since]
    )
    return [TriageRow.from_storage(r) for r in records]


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
