"""The Prefect server and worker as login services: started at login (or boot) and restarted on failure.

``tenure up`` runs both for one session; here they become launchd agents (macOS) or systemd user units
(Linux) running the same ``tenure serve …`` commands with the interpreter that installed them, so the
service uses this install. The destination folder and the command runner are parameters: tests install
into a temporary folder with a recording runner and never touch the real supervisor.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from tenure.config import Env, TenureConfig
from tenure.deployments.api import api_url
from tenure.deployments.launch import serve_argv, service_environment
from tenure.deployments.service_files import (
    Platform,
    Service,
    ServiceFile,
    default_dir,
    launchd_plist,
    plan,
    systemd_unit,
)

__all__ = [
    "Outcome",
    "Platform",
    "Ran",
    "Runner",
    "Service",
    "ServiceFile",
    "State",
    "UnsupportedPlatform",
    "current_platform",
    "default_dir",
    "install",
    "launchd_plist",
    "plan",
    "run_command",
    "services",
    "status",
    "systemd_unit",
    "uninstall",
    "worker_only",
]


class UnsupportedPlatform(RuntimeError):
    """Neither launchd nor systemd: services are for macOS and Linux; elsewhere ``tenure up`` runs them."""


def current_platform() -> Platform:
    if sys.platform == "darwin":
        return "launchd"
    if sys.platform.startswith("linux"):
        return "systemd"
    raise UnsupportedPlatform(
        f"services need launchd (macOS) or systemd (Linux), not {sys.platform}: use tenure up"
    )


def _path(python: Path, platform: Platform) -> str:
    """The venv's bin first (so ``prefect`` and friends resolve to this install), then the system's:
    a supervisor starts services with a bare PATH, not the login shell's."""
    system = ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]
    if platform == "launchd":
        system.insert(0, "/opt/homebrew/bin")
    return os.pathsep.join(dict.fromkeys([str(python.parent), *system]))


def services(
    config: TenureConfig,
    home: Path,
    *,
    config_file: Path | None = None,
    python: str | None = None,
    platform: Platform | None = None,
) -> tuple[Service, ...]:
    """The server and the worker (and the Telegram bot when ``[channels.telegram]`` is configured),
    with the environment they need to find this home, config and API.

    ``python`` defaults to the running interpreter (the venv's, not resolved through its symlink, so the
    venv's packages load); ``config_file`` is TENURE_CONFIG when it is set."""
    exe = Path(python or sys.executable)
    if not exe.is_absolute():
        raise ValueError(f"the interpreter path must be absolute, got {exe}")
    home = home.expanduser().absolute()
    env = {**service_environment(Env(home=home, config=config_file), config.prefect.api_url)}
    env["PATH"] = _path(exe, platform or current_platform())
    prefect = config.prefect

    def serve(what: str, description: str, after: tuple[str, ...] = ()) -> Service:
        argv = tuple(serve_argv(what, python=str(exe)))
        return Service(f"tenure-{what}", argv, env, home, description, after)

    server = serve("server", f"tenure: the Prefect server and UI on {prefect.host}:{prefect.port}")
    worker = serve("worker", f"tenure: the Prefect worker running pool {prefect.pool}", ("tenure-server",))
    if config.channels.telegram is None:
        return server, worker
    argv = (str(exe), "-m", "tenure.cli", "telegram", "run")
    about = "tenure: the Telegram bot, each message a run for the worker"
    bot = Service("tenure-telegram", argv, env, home, about, ("tenure-worker",))
    return server, worker, bot


def worker_only(
    config: TenureConfig, home: Path, *, config_file: Path | None = None, platform: Platform | None = None
) -> Service:
    """The worker alone, for a second machine joining another's Prefect API: its API is ``api_url``'s
    (PREFECT_API_URL, else this config's), and it waits on no local server (docs/scale-out.md)."""
    worker = services(config, home, config_file=config_file, platform=platform)[1]
    api = api_url(config.prefect)
    env = {**worker.env, **service_environment(Env(home=worker.home, config=config_file), api)}
    return replace(worker, env=env, after=(), description=f"{worker.description} for the API at {api}")


# ---- talking to the supervisor --------------------------------------------------------------------


@dataclass(frozen=True)
class Ran:
    """One supervisor command and what came of it (127: the program is not installed)."""

    argv: tuple[str, ...]
    code: int
    output: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 0

    @property
    def missing(self) -> bool:
        return self.code == 127

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


Runner = Callable[[Sequence[str]], Ran]


def run_command(argv: Sequence[str]) -> Ran:
    """Run ``argv`` and never raise: a missing program or a hang becomes a failed ``Ran``."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)
    except FileNotFoundError:
        return Ran(tuple(argv), 127, f"{argv[0]} not found on PATH")
    except subprocess.TimeoutExpired:
        return Ran(tuple(argv), 124, "no answer after 60 s")
    except OSError as exc:
        return Ran(tuple(argv), 126, str(exc))
    return Ran(tuple(argv), done.returncode, (done.stdout + done.stderr).strip())


@dataclass
class Outcome:
    """What ``install``/``uninstall`` did: files changed, commands run, and what is left to the user
    because the supervisor was missing or refused (``problems`` and ``manual`` empty when all worked)."""

    platform: Platform
    files: list[Path] = field(default_factory=list)
    ran: list[Ran] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    manual: list[str] = field(default_factory=list)
    """Shell commands to run by hand, in order."""

    @property
    def ok(self) -> bool:
        return not self.problems

    def run(self, runner: Runner, argv: Sequence[str]) -> Ran:
        self.ran.append(ran := runner(argv))
        return ran

    def give_up(self, failed: Ran, *commands: Sequence[str]) -> None:
        self.problems.append(f"{failed.command}: {failed.output or f'exit code {failed.code}'}")
        self.manual += [shlex.join(c) for c in commands]


def _gui(uid: int | None) -> str:
    return f"gui/{os.getuid() if uid is None else uid}"


def _systemctl(*args: str) -> list[str]:
    return ["systemctl", "--user", *args]


def install(
    svcs: Sequence[Service],
    *,
    platform: Platform | None = None,
    directory: Path | None = None,
    runner: Runner = run_command,
    uid: int | None = None,
) -> Outcome:
    """Write the service files, create the log folder, then have the supervisor (re)start the services.

    Rerunning is safe: systemd restarts only the running units whose file changed, launchd reloads."""
    platform = platform or current_platform()
    outcome = Outcome(platform)
    changed = False
    for f in plan(svcs, platform, directory):
        f.path.parent.mkdir(parents=True, exist_ok=True)
        changed |= f.path.exists() and f.path.read_bytes() != f.content
        f.path.write_bytes(f.content)
        outcome.files.append(f.path)
    for s in svcs:
        s.log.parent.mkdir(parents=True, exist_ok=True)
    if platform == "systemd":
        units = [s.unit for s in svcs]
        steps = [_systemctl("daemon-reload"), _systemctl("enable", "--now", *units)]
        if changed:  # running units keep their old settings until restarted
            steps.insert(1, _systemctl("try-restart", *units))
        for i, step in enumerate(steps):
            if not (ran := outcome.run(runner, step)).ok:
                outcome.give_up(ran, *steps[i:])
                break
        return outcome
    domain = _gui(uid)
    for f in plan(svcs, platform, directory):
        bootstrap = ["launchctl", "bootstrap", domain, str(f.path)]
        load = ["launchctl", "load", "-w", str(f.path)]
        if (out := outcome.run(runner, ["launchctl", "bootout", f"{domain}/{f.service.label}"])).missing:
            outcome.give_up(out, bootstrap)
        elif not (boot := outcome.run(runner, bootstrap)).ok and not outcome.run(runner, load).ok:
            outcome.give_up(boot, bootstrap)  # ``load -w``: launchd before bootstrap existed
    return outcome


def uninstall(
    svcs: Sequence[Service],
    *,
    platform: Platform | None = None,
    directory: Path | None = None,
    runner: Runner = run_command,
    uid: int | None = None,
) -> Outcome:
    """Stop the services, keep them from starting again, and remove their files (the logs stay).

    A file whose service the supervisor refused to stop is kept, so rerunning after the manual command
    finishes the job; with no supervisor at all nothing can be running and the files go."""
    platform = platform or current_platform()
    outcome = Outcome(platform)
    files = plan(svcs, platform, directory)
    keep: set[Path] = set()
    if platform == "systemd":
        # disabling a unit with no file fails for all the units named: name the installed ones
        units = [f.service.unit for f in files if f.path.exists()] or [s.unit for s in svcs]
        stop = outcome.run(runner, _systemctl("disable", "--now", *units))
        if not stop.ok and not stop.missing and not _never_loaded(stop):
            outcome.give_up(stop, stop.argv)
            keep = {f.path for f in files}
    else:
        for f in files:
            if not _launchd_stop(f, _gui(uid), runner, outcome):
                keep.add(f.path)
    for f in files:
        if f.path.exists() and f.path not in keep:
            f.path.unlink()
            outcome.files.append(f.path)
    if platform == "systemd" and outcome.files and not outcome.ran[0].missing:
        outcome.run(runner, _systemctl("daemon-reload"))
    return outcome


def _never_loaded(ran: Ran) -> bool:
    """``disable`` of a unit systemd does not know fails, but there is nothing left to stop."""
    return "does not exist" in ran.output or "not loaded" in ran.output


def _launchd_stop(f: ServiceFile, domain: str, runner: Runner, outcome: Outcome) -> bool:
    """Boot the agent out of the GUI domain (``unload -w`` on older launchd); ``False`` when it may still
    be running."""
    target = f"{domain}/{f.service.label}"
    if not outcome.run(runner, ["launchctl", "print", target]).ok:
        return True  # not loaded, or no launchctl: nothing runs it
    if (out := outcome.run(runner, ["launchctl", "bootout", target])).ok:
        return True
    if not outcome.run(runner, ["launchctl", "unload", "-w", str(f.path)]).ok:
        outcome.give_up(out, out.argv)
        return False
    return True


@dataclass(frozen=True)
class State:
    """One service as the supervisor sees it."""

    service: Service
    path: Path
    installed: bool
    state: str | None
    """``active``/``inactive``/``failed`` (systemd), ``running``/``not loaded``/… (launchd); ``None`` when
    the supervisor could not be asked (``detail`` says why)."""
    detail: str = ""

    @property
    def running(self) -> bool:
        return self.state in ("active", "running")


_SYSTEMD_STATES = {"active", "inactive", "failed", "activating", "deactivating", "reloading"}


def status(
    svcs: Sequence[Service],
    *,
    platform: Platform | None = None,
    directory: Path | None = None,
    runner: Runner = run_command,
    uid: int | None = None,
) -> list[State]:
    """Whether each service's file is installed and whether the supervisor runs it."""
    platform = platform or current_platform()
    states = []
    for f in plan(svcs, platform, directory):
        if platform == "systemd":
            ran = runner(_systemctl("is-active", f.service.unit))
            words = ran.output.split()
            state = words[0] if words and words[0] in _SYSTEMD_STATES else None
        else:
            ran = runner(["launchctl", "print", f"{_gui(uid)}/{f.service.label}"])
            found = re.search(r"^\s*state = (\S+)", ran.output, re.MULTILINE)
            if ran.ok:
                state = found.group(1) if found else "loaded"
            else:
                state = "not loaded" if ran.code == 113 else None  # 113: launchd knows no such service
        detail = "" if state else (ran.output.splitlines() or [f"exit code {ran.code}"])[0]
        states.append(State(f.service, f.path, f.path.exists(), state, detail))
    return states
