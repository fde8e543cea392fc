"""``tenure inbox``: triage the mail now (or keep doing it), and read the digest."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer

from tenure.cli.common import duration, err, fail, load, out
from tenure.cli.render import print_json_lines, render_table
from tenure.config import Env

if TYPE_CHECKING:
    from tenure.config_channels import ImapConfig
    from tenure.runtime import Runtime
    from tenure.store import TriageRow

__all__ = ["inbox_app"]

inbox_app = typer.Typer(
    help="Liv's inbox: triage over IMAP (read-only; each label, extraction and summary a route_task).",
    no_args_is_help=True,
)

NOT_CONFIGURED = (
    "no [channels.imap] table in {path}; add one (README → Email triage), e.g.\n"
    '  [channels.imap]\n  username = "me@proton.me"\n  password = "op://Private/Proton Bridge/password"'
)


def _settings(rt: Runtime) -> ImapConfig:
    settings = rt.config.channels.imap
    if settings is None:
        fail(NOT_CONFIGURED.format(path=Env().config_path))
    return settings


def _hours(text: str) -> float:
    return duration(text).total_seconds() / 3600


def _one_pass(settings: ImapConfig, limit: int | None) -> list[TriageRow]:
    """One inbox_triage flow run; exits 1 with the reason when the server cannot be read."""
    from imapclient.exceptions import IMAPClientError

    from tenure.flows.inbox import inbox_triage
    from tenure.secrets import SecretError

    where = f"{settings.host}:{settings.port}"
    try:
        return asyncio.run(inbox_triage(limit=limit))
    except ssl.SSLError as exc:
        fail(f"TLS with {where} failed ({exc.__class__.__name__}: {exc}); check channels.imap.ca_file "
             "(Proton Bridge: export its certificate) and channels.imap.security", 1)  # fmt: skip
    except IMAPClientError as exc:
        fail(f"the IMAP server at {where} refused: {exc}; check channels.imap.username and password", 1)
    except SecretError as exc:
        fail(f"channels.imap.password: {exc}", 1)
    except OSError as exc:
        fail(f"cannot reach the IMAP server at {where}: {exc}; is Proton Bridge (or the server) running?", 1)


JSON_COLUMNS = {
    "uid", "message_id", "sender", "subject", "date", "label", "summary", "action_items",
    "suspected_injection", "injection_reasons", "attachments", "served_by", "run_ids", "error",
}  # fmt: skip


def _show(rows: list[TriageRow], json_out: bool) -> None:
    if json_out:
        print_json_lines([r.model_dump(mode="json", include=JSON_COLUMNS) for r in rows])
        return
    if not rows:
        out.print("no new mail")
        return
    table = []
    for r in rows:
        flag = "⚠ injection?" if r.suspected_injection else (r.error or "")[:40]
        table.append((str(r.uid), r.label or "-", (r.sender or "")[:40], (r.subject or "")[:60],
                      (r.summary or "")[:80], flag))  # fmt: skip
    render_table(["uid", "label", "from", "subject", "summary", ""], table, title="triaged")


@inbox_app.command("triage")
def triage(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit (else: every --every).")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="At most N messages a pass, oldest first.")] = None,
    every: Annotated[str, typer.Option(help="Time between passes without --once, e.g. 15m.")] = "15m",
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per triaged message.")] = False,
) -> None:  # fmt: skip
    """Triage the mail that arrived since the last pass: EXAMINE (read-only), BODY.PEEK (nothing marked
    read), each message classified, its action items extracted and summarised in one line."""
    rt = load()
    settings = _settings(rt)
    pause = _hours(every) * 3600
    while True:
        with contextlib.nullcontext() if json_out else out.status("triaging…"):
            rows = _one_pass(settings, limit)
        _show(rows, json_out)
        if once:
            return
        err.print(f"next pass in {every} (Ctrl-C stops)")
        try:
            time.sleep(pause)
        except KeyboardInterrupt:
            return


@inbox_app.command("digest")
def digest(
    since: Annotated[str, typer.Option(help="How far back, e.g. 24h, 90m or 7d.")] = "24h",
    send: Annotated[
        bool, typer.Option("--send", help="Also send it to the Telegram owner chat (and the daily note).")
    ] = False,
) -> None:
    """The triaged mail by label, urgent first: summaries, action items, suspected injection attempts."""
    from tenure.flows.inbox import inbox_digest

    load()
    hours = _hours(since)
    text = asyncio.run(inbox_digest(hours=hours, send=send))
    sys.stdout.write(text + "\n")
