"""``tenure service``: the Prefect server and worker as login services (launchd on macOS, systemd on
Linux), so scheduled flows keep running after a reboot, a logout or a crash, not only while ``tenure up``
runs. ``install --worker-only`` installs the worker alone, for a second machine that joins another
machine's Prefect API (docs/scale-out.md)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tenure.cli.common import err, fail, load, out
from tenure.config import ui_url

if TYPE_CHECKING:
    from tenure.deployments.services import Outcome, Platform, Service
    from tenure.runtime import Runtime

__all__ = ["service_app"]

service_app = typer.Typer(
    help="Run the Prefect server and worker as services: started at login, restarted when they fail.",
    no_args_is_help=True,
)


class Supervisor(StrEnum):
    launchd = "launchd"
    systemd = "systemd"


PLATFORMS: dict[Supervisor, Platform] = {Supervisor.launchd: "launchd", Supervisor.systemd: "systemd"}


def _runtime(platform: Platform | None = None) -> tuple[Runtime, Platform]:
    """This runtime and the supervisor to render for (exit 2 on a bad config, 1 on Windows)."""
    from tenure.deployments.services import UnsupportedPlatform, current_platform

    rt = load()
    try:
        return rt, platform or current_platform()
    except UnsupportedPlatform as exc:
        fail(str(exc), 1)


def _services(platform: Platform | None = None) -> tuple[tuple[Service, ...], Platform]:
    """The server and the worker for this runtime's home and config."""
    from tenure.config import Env
    from tenure.deployments.services import services

    rt, platform = _runtime(platform)
    return services(rt.config, rt.home, config_file=Env().config, platform=platform), platform


def _worker_only(platform: Platform | None = None) -> tuple[tuple[Service], Platform]:
    """The worker alone, pointed at the API it will use, which is said first: PREFECT_API_URL's or, with
    a hint to set it, this config's; then whether anything answers there now, and whether a server is
    installed here too (a worker-only install leaves it alone)."""
    from tenure.config import Env
    from tenure.deployments.api import answers
    from tenure.deployments.services import plan, services, worker_only

    rt, platform = _runtime(platform)
    worker = worker_only(rt.config, rt.home, config_file=Env().config, platform=platform)
    api = worker.env["PREFECT_API_URL"]
    if api != rt.config.prefect.api_url:
        out.print(f"the worker will use the Prefect API at {escape(api)} (PREFECT_API_URL)", highlight=False)
    else:
        out.print(
            f"[yellow]the worker will use the Prefect API at {escape(api)}[/yellow], this machine's "
            "\\[prefect] host/port: to join another machine's, first "
            "[bold]export PREFECT_API_URL=http://<first-machine>:4200/api[/bold]",
            highlight=False,
            soft_wrap=True,
        )
    if not answers(api):
        out.print(
            f"[yellow]nothing answers at {escape(api)} now[/yellow]: the worker waits up to 120 s for it at "
            f"each start, then exits and {platform} starts it again",
            highlight=False,
        )
    server = plan(services(rt.config, rt.home, platform=platform)[:1], platform)[0]
    if server.path.exists():
        out.print(
            f"[yellow]{server.service.name} is still installed here[/yellow] ({escape(str(server.path))}) "
            "and runs its own server: to remove it, [bold]tenure service uninstall[/bold], then "
            "[bold]tenure service install --worker-only[/bold] again",
            highlight=False,
            soft_wrap=True,
        )
    return (worker,), platform


def _notes(svcs: Sequence[Service], platform: Platform) -> None:
    """What a service cannot do for you: keep a laptop awake, or start before login on Linux."""
    out.print(f"logs in {escape(str(svcs[0].log.parent))}", highlight=False, soft_wrap=True)
    if len(svcs) == 1:
        out.print(
            "[dim]a [bold]tenure up[/bold] session on this machine starts a second worker under the same "
            "name: stop it first[/dim]"
        )
    else:
        address = ui_url(svcs[0].env["PREFECT_API_URL"])
        out.print(
            f"[dim]a [bold]tenure up[/bold] session uses the same address ({address}): stop it first[/dim]"
        )
    if platform == "systemd":
        out.print(
            "[dim]user units start at login; to start them at boot without logging in: "
            "[bold]loginctl enable-linger $USER[/bold][/dim]"
        )
    else:
        out.print(
            "[dim]macOS: a Mac that sleeps stops the worker and its schedules. On an always-on Mac run "
            "[bold]caffeinate -s[/bold] (awake while on power) or turn off automatic sleep in "
            "System Settings → Energy Saver.[/dim]"
        )


def _report(outcome: Outcome, headline: str, then: str = "") -> None:
    """The commands that ran; on a failure the reason and the commands to run by hand, then exit 1."""
    for ran in outcome.ran:
        mark = "[green]✓[/green]" if ran.ok else "[dim]·[/dim]"
        out.print(f"{mark} {escape(ran.command)}", highlight=False, soft_wrap=True)
    if outcome.ok:
        return
    err.print(f"[red]{headline}:[/red]")
    for problem in outcome.problems:
        err.print(f"  {problem}", markup=False, highlight=False, soft_wrap=True)
    if any("Failed to connect to bus" in p for p in outcome.problems):
        err.print(
            "  (no user session bus: log in as this user rather than su/sudo, or run "
            "loginctl enable-linger $USER and export XDG_RUNTIME_DIR=/run/user/$(id -u))",
            markup=False,
            highlight=False,
        )
    err.print(f"run by hand{then}:")
    for command in outcome.manual:
        err.print(f"  {command}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _dry_run(svcs: Sequence[Service], platform: Platform) -> None:
    """Each file under its path, then the supervisor commands install would run; nothing is written."""
    from tenure.deployments.services import plan

    files = plan(svcs, platform)
    for f in files:
        out.print(f"[bold]# {escape(str(f.path))}[/bold]", soft_wrap=True)
        out.print(f.content.decode(), markup=False, highlight=False, soft_wrap=True)
    if platform == "systemd":
        then = [
            "systemctl --user daemon-reload",
            "systemctl --user enable --now " + " ".join(s.unit for s in svcs),
        ]
    else:
        then = [f"launchctl bootstrap gui/$(id -u) {shlex.quote(str(f.path))}" for f in files]
    out.print("[dim]dry run: nothing was written or started; install would then run:[/dim]")
    for command in then:
        out.print(f"  {command}", markup=False, highlight=False, soft_wrap=True)
    _notes(svcs, platform)


@service_app.command("install")
def service_install(
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the files it would write, with their paths; change nothing."),
    ] = False,
    platform: Annotated[
        Supervisor | None,
        typer.Option(help="Render for this supervisor instead of this machine's (only with --dry-run)."),
    ] = None,
    worker_only: Annotated[
        bool,
        typer.Option(
            "--worker-only",
            help="Install only the worker, using the Prefect API in $PREFECT_API_URL (else tenure.toml's), "
            "for a second machine joining another's Prefect API: see docs/scale-out.md.",
        ),
    ] = False,
) -> None:
    """Write the service files and have launchd or systemd start the server and the worker (with
    --worker-only, the worker alone) now and at every login, restarting them when they fail. Safe to rerun
    after changing tenure.toml."""
    from tenure.deployments.services import install

    if platform is not None and not dry_run:
        fail("--platform only goes with --dry-run: install uses this machine's supervisor")
    chosen_platform = PLATFORMS[platform] if platform else None
    svcs: Sequence[Service]
    svcs, chosen = _worker_only(chosen_platform) if worker_only else _services(chosen_platform)
    if dry_run:
        _dry_run(svcs, chosen)
        return
    try:
        outcome = install(svcs, platform=chosen)
    except OSError as exc:
        fail(f"cannot write {exc.filename}: {exc.strerror}", 1)
    for path in outcome.files:
        out.print(f"wrote {escape(str(path))}", highlight=False, soft_wrap=True)
    _report(outcome, f"the files are written, but {chosen} did not start the services")
    names = " and ".join(s.name for s in svcs)
    out.print(
        f"[green]{names} run{'s' if len(svcs) == 1 else ''} under {chosen}[/green]: see tenure service status"
    )
    _notes(svcs, chosen)


@service_app.command("uninstall")
def service_uninstall() -> None:
    """Stop the server and the worker (whichever are installed: a --worker-only install has no server),
    keep them from starting at login, and remove their files (the logs stay)."""
    from tenure.deployments.services import uninstall

    svcs, chosen = _services()
    try:
        outcome = uninstall(svcs, platform=chosen)
    except OSError as exc:
        fail(f"cannot remove {exc.filename}: {exc.strerror}", 1)
    for path in outcome.files:
        out.print(f"removed {escape(str(path))}", highlight=False, soft_wrap=True)
    _report(
        outcome,
        f"{chosen} did not stop the services, so their files stay",
        ", then tenure service uninstall again",
    )
    if not outcome.files:
        out.print("no service files were installed")


@service_app.command("status")
def service_status() -> None:
    """Each service's file and whether the supervisor runs it; exits 1 unless the worker is installed and
    every installed service runs (both, or the worker alone after install --worker-only)."""
    from tenure.deployments.services import status

    svcs, chosen = _services()
    states = status(svcs, platform=chosen)
    table = Table("service", "file", chosen, "log")
    for s in states:
        shown = "[green]installed[/green]" if s.installed else "[yellow]not installed[/yellow]"
        if s.state is None:
            running = f"[yellow]unknown[/yellow] [dim]{escape(s.detail)}[/dim]"
        else:
            running = f"[{'green' if s.running else 'yellow'}]{s.state}[/]"
        table.add_row(
            s.service.name, f"{shown}\n[dim]{escape(str(s.path))}[/dim]", running, str(s.service.log)
        )
    out.print(table)
    server, worker = states
    if worker.installed and not server.installed:
        out.print(
            "worker only (tenure service install --worker-only): no server here; the worker's "
            f"PREFECT_API_URL is in {escape(str(worker.path))}",
            highlight=False,
            soft_wrap=True,
        )
    if not (worker.installed and all(s.running for s in states if s.installed)):
        if not any(s.installed for s in states):
            out.print("install them with [bold]tenure service install[/bold]")
        raise typer.Exit(1)
