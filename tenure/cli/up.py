"""``tenure up | down | status`` and ``tenure serve``: run tenure 24/7 with the Prefect UI as its window."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tenure.cli.common import err, fail, load, out
from tenure.config import Env

if TYPE_CHECKING:
    from tenure.deployments.status import Status

__all__ = ["down", "serve_app", "status", "up"]

serve_app = typer.Typer(
    help="Run one part of tenure in the foreground (what `tenure up` starts and the services run).",
    no_args_is_help=True,
)


def _ago(when: datetime | None) -> str:
    if when is None:
        return "-"
    seconds = (datetime.now(UTC) - when).total_seconds()
    span = abs(seconds)
    amount = (
        f"{span:.0f} s" if span < 120 else f"{span // 60:.0f} min" if span < 7200 else f"{span / 3600:.0f} h"
    )
    return f"in {amount}" if seconds < 0 else f"{amount} ago"


def _when(moment: datetime) -> str:
    """``13:05 UTC (in 43 min)``; with the weekday when it is not within the day."""
    within_day = abs((moment - datetime.now(UTC)).total_seconds()) < 86400
    return f"{moment:{'%H:%M' if within_day else '%a %H:%M'}} UTC ({_ago(moment)})"


def _read(api: str, pool: str) -> Status:
    from tenure.deployments.api import answers
    from tenure.deployments.status import read_status

    if not answers(api):
        fail(f"no Prefect API answers at {api}; start tenure with `tenure up`", code=1)
    return asyncio.run(read_status(api, pool))


def _render(status: Status, runs: bool) -> None:
    if not status.pool_exists:
        out.print("[yellow]no tenure work pool yet[/yellow]: `tenure up` creates it and deploys")
    for w in status.workers or []:
        style = "green" if w.status == "ONLINE" else "red"
        out.print(
            f"worker [bold]{w.name}[/bold] [{style}]{w.status}[/{style}], heartbeat {_ago(w.last_heartbeat)}"
        )
    if status.pool_exists and not status.workers:
        out.print("[red]no worker polls the pool[/red]: runs will wait; `tenure up` starts one")
    table = Table("deployment", "schedule", "next run", title="deployments", title_justify="left")
    for d in status.deployments:
        nxt = "paused" if d.paused else (_when(d.next_run) if d.next_run else "-")
        table.add_row(d.name, ", ".join(d.schedules) or "on demand", nxt)
    out.print(table)
    if not runs:
        return
    recent = Table("flow run", "flow", "state", "when", "tags", title="last runs", title_justify="left")
    for r in status.recent:
        style = {"Completed": "green", "Failed": "red", "Crashed": "red", "Running": "cyan"}.get(r.state, "")
        state = f"[{style}]{r.state}[/{style}]" if style else r.state
        recent.add_row(r.name, r.flow, state, _ago(r.when), " ".join(t for t in r.tags if t != "tenure"))
    out.print(recent)
    if status.failed:
        out.print(f"[red]{len(status.failed)} failed run(s) in the last 24 h[/red]:")
        for r in status.failed:
            out.print(f"  {r.flow} {r.name} ({_ago(r.when)}): {r.url}", highlight=False)
    else:
        out.print("[green]no failed runs in the last 24 h[/green]")


def up() -> None:
    """Start tenure for good: Prefect server (unless PREFECT_API_URL answers), work pool, deployments
    and a process worker; then print the UI address and the next scheduled runs.

    Idempotent: a second `up` changes nothing and says so. The processes run in the background with
    pid files in $TENURE_HOME/run and logs in $TENURE_HOME/logs; `tenure down` stops them. To keep
    tenure running across reboots use `tenure service install` instead."""
    from tenure.deployments.stack import StackError
    from tenure.deployments.stack import up as bring_up

    config = load().config
    began = time.monotonic()
    try:
        report = bring_up(Env(), config.prefect, say=lambda line: err.print(f"[dim]{line}[/dim]"))
    except StackError as exc:
        fail(str(exc), code=1)
    for name in report.stale:
        err.print(f"[yellow]stale pid file for the {name}[/yellow] (its process had gone): removed")
    if not report.started:
        out.print(
            f"tenure is already running ({', '.join(report.running) or 'external server'}): nothing changed"
        )
    else:
        out.print(
            f"[green]started[/green] {' and '.join(report.started)} in {time.monotonic() - began:.1f} s"
        )
    if report.external:
        out.print(f"using the Prefect server at {report.api_url} (not started by tenure)")
    # the scheduler fills in the next runs within seconds of a deploy
    status = _read(report.api_url, config.prefect.pool)
    for _ in range(20):
        if not report.started or all(d.next_run or not d.schedules for d in status.deployments):
            break
        time.sleep(0.5)
        status = _read(report.api_url, config.prefect.pool)
    _render(status, runs=False)
    out.print(f"[bold]UI[/bold] {status.ui_url}", highlight=False)
    out.print(f"[dim]for the prefect CLI:[/dim] export PREFECT_API_URL={report.api_url}", highlight=False)


def down() -> None:
    """Stop what `tenure up` started (by its pid files; nothing else). Data stays in $TENURE_HOME."""
    from tenure.deployments.stack import down as bring_down

    stopped = bring_down(Env())
    out.print(f"stopped {' and '.join(stopped)}" if stopped else "nothing started by `tenure up` is running")


def status(
    json_out: Annotated[bool, typer.Option("--json", help="One JSON document, for scripts.")] = False,
) -> None:
    """Server, worker heartbeat, deployments with schedule and next run, the last 10 runs, and the
    failed runs of the last 24 h with their UI links."""
    from dataclasses import asdict

    from tenure.deployments.api import api_url

    config = load().config
    current = _read(api_url(config.prefect), config.prefect.pool)
    if json_out:
        import json

        out.print_json(json.dumps(asdict(current), default=str))
        return
    out.print(
        f"[bold]server[/bold] {current.api_url} [green]answers[/green]   [bold]UI[/bold] {current.ui_url}"
    )
    _render(current, runs=True)


@serve_app.command("server")
def serve_server() -> None:
    """The Prefect server (API and UI) on prefect.host:prefect.port, its database under $TENURE_HOME."""
    from tenure.deployments.stack import serve_server as run

    run(Env(), load().config.prefect)


@serve_app.command("worker")
def serve_worker(
    name: Annotated[str | None, typer.Option(help="Worker name (default tenure-<hostname>).")] = None,
) -> None:
    """Wait for the API, apply the deployments, then poll the work pool as a process worker."""
    from tenure.deployments.stack import StackError, worker_name
    from tenure.deployments.stack import serve_worker as run

    try:
        run(Env(), load().config.prefect, name or worker_name())
    except StackError as exc:
        fail(str(exc), code=1)
