"""``tenure doctor``: is this machine ready? One row per check with ok / warn / fail and a fix."""

from __future__ import annotations

import typer
from rich.table import Table

from tenure.cli.common import err, out
from tenure.config import ConfigError, Env
from tenure.runtime import runtime

__all__ = ["doctor"]

STATUS_STYLE = {"ok": "green", "warn": "yellow", "fail": "red"}


def doctor() -> None:
    """Check that this machine is ready: config, keys, Ollama, models, Prefect, workspaces, vault, and
    the channels (the Telegram token, the inbox login).

    Each check is ok, warn or fail with a fix; the command exits 1 if anything fails (warnings are
    fine: a missing key or a stopped Ollama only means the chain falls back past them)."""
    from tenure.channels.inbox.health import check_inbox
    from tenure.doctor import run_checks

    path = Env().config_path
    try:
        rt = runtime()
    except ConfigError as exc:
        err.print(f"[red]fail[/red] config: {path}")
        for problem in exc.problems:
            err.print(f"  {problem}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    detail = f"valid: {path}" if path.exists() else f"shipped defaults (no file at {path})"
    table = Table("check", "status", "detail", "fix", title="tenure doctor")
    worst = "ok"
    for name, run in run_checks(rt.config, rt.home, detail, [("inbox", lambda: check_inbox(rt.config))]):
        with out.status(f"checking {name}…"):
            checks = run()
        for c in checks:
            style = STATUS_STYLE[c.status]
            table.add_row(c.name, f"[{style}]{c.status}[/{style}]", c.detail, c.fix)
            if c.status == "fail" or (c.status == "warn" and worst == "ok"):
                worst = c.status
    out.print(table)
    raise typer.Exit(1 if worst == "fail" else 0)
