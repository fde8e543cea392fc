"""``inbox_triage`` (every 15 minutes) and ``inbox_digest`` (each morning): Liv reading the inbox.

A triage pass examines the folder read-only, plans which UIDs are new (``channels.inbox.triage``),
fetches them in batches and triages each batch as one task run; every batch's rows are one segment of
the score log's ``triage`` table, so a pass killed midway resumes after the last batch written. The
IMAP session is blocking I/O and runs in a thread, off the flow's event loop.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tenure.channels.inbox.digest import append_to_daily_note
from tenure.channels.inbox.imap import Fetched, Mailbox, account_of
from tenure.channels.inbox.triage import plan_pass, triage_message
from tenure.channels.telegram.notify import tell_owner
from tenure.config_channels import DEFAULT_LABELS, ImapConfig
from tenure.runtime import runtime
from tenure.secrets import resolve
from tenure.store import TriageRow
from tenure.store.inbox import digest_text, triaged_since
from tenure.tasks.shadowing import append_rows
from tenure.tasks.ui import label, publish_markdown, rename

__all__ = ["inbox_digest", "inbox_triage"]


@task(name="triage", task_run_name="triage/uid {first}-{last}", cache_policy=NO_CACHE)
async def triage_batch(
    fetched: list[Fetched], uidvalidity: int, account: str, settings: ImapConfig, first: int, last: int
) -> list[TriageRow]:
    """One batch of messages triaged, one after the other (each one's three tasks at once). Not
    retried: a message's tasks are archived as they are answered, so a retry would route them twice."""
    rt = runtime()
    return [
        await triage_message(f, uidvalidity, account, settings, rt.config, rt.home, rt.log) for f in fetched
    ]


@flow(name="inbox_triage", flow_run_name="inbox_triage")
async def inbox_triage(limit: int | None = None) -> list[TriageRow]:
    """Triage the messages that arrived since the last pass (at most ``limit`` of them, oldest first)."""
    rt, logger = runtime(), get_run_logger()
    settings = rt.config.channels.imap
    if settings is None:
        logger.info("no [channels.imap] in the config: nothing to triage")
        rename("inbox_triage: not configured")
        return []
    password = resolve(settings.password).get_secret_value()
    account = account_of(settings)
    box = await asyncio.to_thread(Mailbox(settings, password).__enter__)
    rows: list[TriageRow] = []
    try:
        plan = await asyncio.to_thread(plan_pass, box, rt.log, account, settings.max_text_chars)
        if plan.repeats:
            append_rows("triage", plan.repeats)
            logger.info("UIDVALIDITY %d is new: %d message(s) seen before, not triaged again",
                        box.uidvalidity, len(plan.repeats))  # fmt: skip
        uids = plan.uids[:limit] if limit is not None else plan.uids
        for start in range(0, len(uids), settings.batch):
            batch = uids[start : start + settings.batch]
            fetched = await asyncio.to_thread(box.fetch, batch)
            done = await triage_batch(fetched, box.uidvalidity, account, settings, batch[0], batch[-1])
            append_rows("triage", done)
            rows += done
    finally:
        await asyncio.to_thread(box.__exit__, None, None, None)
    flagged = sum(r.suspected_injection for r in rows)
    logger.info("%s: %d new message(s) triaged, %d flagged as possible injection, %d left for later",
                account, len(rows), flagged, len(plan.uids) - len(rows))  # fmt: skip
    rename(f"inbox_triage: {len(rows)} new" + (f", {flagged} flagged" if flagged else ""))
    label(source="live", model=sorted({m for r in rows for m in (r.served_by or {}).values() if m}))
    if rows:
        since = min(r.ts or datetime.now(UTC) for r in rows)
        publish_markdown(None, digest_text(rows, since, settings.labels), f"{len(rows)} message(s) triaged")
    return rows


@flow(name="inbox_digest", flow_run_name="inbox_digest")
async def inbox_digest(hours: float = 24.0, send: bool = True) -> str:
    """The digest of the last ``hours``: to the Telegram owner chat (when configured and ``send``), to
    the vault's daily note (``digest_to_vault``), and as this run's artifact."""
    rt, logger = runtime(), get_run_logger()
    settings = rt.config.channels.imap
    since = datetime.now(UTC) - timedelta(hours=hours)
    text = digest_text(
        triaged_since(rt.log, since), since, settings.labels if settings else list(DEFAULT_LABELS)
    )
    telegram = rt.config.channels.telegram
    if send and telegram is not None and telegram.owner_chat is not None:
        logger.info("sent to the Telegram owner chat in %d message(s)", await tell_owner(telegram, text))
    if send and settings is not None and settings.digest_to_vault and rt.config.vault.path:
        note = append_to_daily_note(rt.config.vault.path.expanduser(), datetime.now().date(), text)
        logger.info("appended to %s", note)
    publish_markdown("inbox-digest", text, f"the inbox since {since:%Y-%m-%d %H:%M} UTC")
    return text
