"""Triage of one message, and what one pass over the mailbox triages.

Each message is three commodity tasks through ``route_task``: ``classify`` (the configured labels),
``extract`` (intent, dates, amounts, action items) and ``summarize`` (one line). So the inbox is also
a stream of real tasks the control plane learns from: each answer is archived and shadowed like any
other. The mail's text is the tasks' input, which every task type puts in a delimited block; triage
calls no agent tool, so nothing a mail says can make anything happen besides its own row.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenure.channels.inbox.imap import Fetched, Mailbox
from tenure.channels.inbox.injection import suspicions
from tenure.channels.inbox.mail import Mail, parse_mail
from tenure.config import TenureConfig
from tenure.config_channels import ImapConfig
from tenure.control.routing import RoutingFailed, route_task
from tenure.control.task import Task
from tenure.store import ScoreLog, TriageRow
from tenure.store.inbox import last_uid, triaged

__all__ = ["EXTRACT_FIELDS", "Plan", "plan_pass", "triage_message"]

EXTRACT_FIELDS = ["intent", "dates", "amounts", "action_items"]
SUMMARY_WORDS = 30


@dataclass(frozen=True)
class Plan:
    uids: list[int]
    """New messages to triage, oldest first."""
    repeats: list[TriageRow]
    """Messages a changed UIDVALIDITY shows again: recorded as repeats, not triaged twice."""


def plan_pass(box: Mailbox, log: ScoreLog, account: str, max_chars: int) -> Plan:
    """What this pass triages: the UIDs above the last one recorded for this UIDVALIDITY. Under a
    UIDVALIDITY never seen before, for a mailbox triaged before, every message is matched by
    Message-ID first."""
    start = last_uid(log, account, box.uidvalidity)
    uids = box.uids_after(start)
    known = triaged(log, account) if start == 0 else {}
    if not known or not uids:
        return Plan(uids, [])
    repeats = []
    for uid, header in box.message_ids(uids).items():
        mail = parse_mail(header, max_chars)
        if mail.message_id in known:
            repeats.append(TriageRow(account=account, uidvalidity=box.uidvalidity, uid=uid,
                                     message_id=mail.message_id, sender=mail.sender, subject=mail.subject,
                                     date=mail.date, duplicate_of=known[mail.message_id]))  # fmt: skip
    seen = {r.uid for r in repeats}
    return Plan([u for u in uids if u not in seen], repeats)


def task_text(mail: Mail) -> str:
    """The message as the tasks read it: its headers, attachments named, then its text."""
    lines = [f"From: {mail.sender or '(unknown)'}", f"Subject: {mail.subject or '(none)'}"]
    if mail.date:
        lines.append(f"Date: {mail.date:%Y-%m-%d %H:%M %Z}".rstrip())
    if mail.attachments:
        names = ", ".join(f"{a.name or 'unnamed'} ({a.content_type})" for a in mail.attachments[:10])
        lines.append(f"Attachments: {names}")
    return "\n".join(lines) + "\n\n" + (mail.text or "(no text)")


def _items(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()][:20]
    if isinstance(value, str) and value.strip():
        return [part.strip(" -•*") for part in value.replace(";", "\n").splitlines() if part.strip(" -•*")]
    return []


def _one_line(value: Any) -> str | None:
    text = " ".join(str(value).split()) if value else ""
    return text[:300] or None


async def _routed(kind: str, key: str, data: dict[str, Any], config: TenureConfig, home: Path, log: ScoreLog):
    task = Task(id=f"mail:{key}:{kind}", type=kind, input=data)
    try:
        return kind, await route_task(task, config, home, log), None
    except RoutingFailed as exc:
        return kind, None, f"{kind}: {exc}"


async def triage_message(
    fetched: Fetched, box_uidvalidity: int, account: str, settings: ImapConfig, config: TenureConfig,
    home: Path, log: ScoreLog,
) -> TriageRow:  # fmt: skip
    """One message's row: parsed, checked for injection, and its three tasks routed (concurrently)."""
    where = {"account": account, "uidvalidity": box_uidvalidity, "uid": fetched.uid, "size": fetched.size}
    try:
        mail = await asyncio.to_thread(parse_mail, fetched.raw, settings.max_text_chars, fetched.skipped)
    except Exception as exc:  # the parser is defensive; whatever still breaks it is recorded, not retried
        key = hashlib.sha256(fetched.raw[:65536]).hexdigest()[:40]
        return TriageRow(
            **where, message_id=f"sha256:{key}", error=f"cannot be parsed: {type(exc).__name__}: {exc}"
        )
    text = task_text(mail)
    key = hashlib.sha256(f"{account}\n{box_uidvalidity}\n{fetched.uid}".encode()).hexdigest()[:16]
    steps = {
        "classify": {"text": text, "labels": settings.labels},
        "extract": {"text": text, "fields": EXTRACT_FIELDS},
        "summarize": {"text": text, "max_words": SUMMARY_WORDS},
    }
    results = await asyncio.gather(*(_routed(k, key, d, config, home, log) for k, d in steps.items()))
    done = {kind: routed for kind, routed, _ in results if routed is not None}
    errors = [error for _, _, error in results if error]
    label = done["classify"].output if "classify" in done else None
    extracted = done["extract"].output if "extract" in done else None
    extracted = extracted if isinstance(extracted, dict) else {}
    reasons = suspicions(f"{mail.sender or ''}\n{mail.subject or ''}", mail.text, mail.hidden)
    return TriageRow(
        **where,
        message_id=mail.message_id,
        sender=mail.sender,
        subject=mail.subject,
        date=mail.date,
        label=label if label in settings.labels else None,
        summary=_one_line(done["summarize"].output) if "summarize" in done else None,
        action_items=_items(extracted.get("action_items")),
        extracted=extracted or None,
        suspected_injection=bool(reasons),
        injection_reasons=reasons or None,
        attachments=[{"name": a.name, "type": a.content_type, "size": a.size} for a in mail.attachments]
        or None,
        truncated=mail.truncated or bool(fetched.skipped) or fetched.cut,
        served_by={kind: routed.served_by for kind, routed in done.items()},
        run_ids={kind: routed.run_id for kind, routed in done.items()},
        error="; ".join(errors) or None,
    )
