"""The ``triage`` table's named queries: where an inbox pass resumes, which messages it has seen, and
what a digest reads. The table itself is ``rows.TriageRow``; these are the only SQL run on it."""

from __future__ import annotations

from datetime import datetime

from tenure.store.log import ScoreLog
from tenure.store.rows import TriageRow

__all__ = ["last_uid", "triaged", "triaged_since"]


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
