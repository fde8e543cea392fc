"""``tenure service``: the Prefect server and worker as login services (launchd on macOS, systemd on
Linux), so scheduled flows keep running after a reboot, a logout or a crash, not only while ``tenure up``
runs."""

from __future__ import annotations

import shlex
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tenure.cli.common import err, fail, load, out

if TYPE_CHECKING:
    from tenure.deployments.services import Outcome, Platform, Service

__all__ = ["service_app"]

service_app = typer.Typer(
    help="Run the Prefect server and worker as services: started at login, restarted when they fail.",
    no_args_is_help=True,
)


class Supervisor(StrEnum):
    launchd = "launchd"
    systemd = "systemd"


PLATFORMS: dict[Supervisor, Platform] = {Supervisor.launchd: "launchd", Supervisor.systemd: "systemd"}


def _services(platform: Platform | None = None) -> tuple[tuple[Service, Service], Platform]:
    """The two services for this runtime's home and config (exit 2 on a bad config, 1 on Windows)."""
    from tenure.config import Env
    from tenure.deployments.services import UnsupportedPlatform, current_platform, services

    rt = load()
    try:
        platform = platform or current_platform()
    except UnsupportedPlatform as exc:
        fail(str(exc), 1)
    return services(rt.config, rt.home, config_file=Env().config, platform=platform), platform


def _notes(svcs: tuple[Service, Service], platform: Platform) -> None:
    """What a service cannot do for you: keep a laptop awake, or start before login on Linux."""
    out.print(f"logs in {escape(str(svcs[0].log.parent))}", highlight=False, soft_wrap=True)
    address = svcs[0].env["PREFECT_API_URL"].removesuffix("/api")
    out.print(f"[dim]a [bold]tenure up[/bold] session uses the same address ({address}): stop it first[/dim]")
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


def _dry_run(svcs: tuple[Service, Service], platform: Platform) -> None:
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
) -> None:
    """Write the service files and have launchd or systemd start the server and the worker now and at
    every login, restarting them when they fail. Safe to rerun after changing tenure.toml."""
    from tenure.deployments.services import install

    if platform is not None and not dry_run:
        fail("--platform only goes with --dry-run: install uses this machine's supervisor")
    svcs, chosen = _services(PLATFORMS[platform] if platform else None)
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
    out.print(
        f"[green]{svcs[0].name} and {svcs[1].name} run under {chosen}[/green]: see tenure service status"
    )
    _notes(svcs, chosen)


@service_app.command("uninstall")
def service_uninstall() -> None:
    """Stop the server and the worker, keep them from starting at login, and remove their files (the
    logs stay)."""
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
    """Each service's file and whether the supervisor runs it; exits 1 unless both are installed and
    running."""
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
    if not all(s.installed and s.running for s in states):
        if not any(s.installed for s in states):
            out.print("install them with [bold]tenure service install[/bold]")
        raise typer.Exit(1)
