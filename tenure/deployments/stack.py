"""tenure on one machine: a Prefect server and a process worker.

Both are launched one way, ``tenure serve server|worker`` (by ``tenure up`` in the background, or by
launchd/systemd from ``tenure service install``), with one environment (``tenure.deployments.launch``). The
worker applies the deployments before it polls, so a restarted service picks up an upgraded package.
``up`` is idempotent: it reuses a Prefect API that answers (``PREFECT_API_URL``, else the configured
address) and starts only what is not running; ``down`` stops only what ``up`` started.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tenure.config import Env, PrefectConfig
from tenure.deployments.api import answers, api_url
from tenure.deployments.deploy import apply
from tenure.deployments.launch import serve_argv, service_environment
from tenure.deployments.processes import Managed

__all__ = [
    "StackError",
    "UpReport",
    "down",
    "serve_server",
    "serve_worker",
    "up",
    "worker_name",
]

STARTUP_SECONDS = 60.0
HEARTBEAT_FRESH = timedelta(seconds=45)
"""A worker heartbeats every 30 s (Prefect's default); one heard from within this long is running."""


class StackError(RuntimeError):
    """A process did not come up; the message says which and ends with the tail of its log."""


def worker_name() -> str:
    return f"tenure-{socket.gethostname()}"


def _exec(argv: list[str], env: Env, api: str) -> None:
    os.execve(argv[0], argv, {**os.environ, **service_environment(env, api)})


def serve_server(env: Env, prefect: PrefectConfig) -> None:
    """Replace this process with a Prefect server (SQLite under ``$TENURE_HOME/prefect``)."""
    env.prefect_home.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "prefect", "server", "start", "--host", prefect.host]
    _exec([*argv, "--port", str(prefect.port), "--analytics-off"], env, prefect.api_url)


def serve_worker(env: Env, prefect: PrefectConfig, name: str, wait: float = 120.0) -> None:
    """Wait for the API, apply the deployments, then replace this process with a process worker."""
    api = api_url(prefect)
    deadline = time.monotonic() + wait
    while not answers(api):
        if time.monotonic() > deadline:
            raise StackError(f"no Prefect API answers at {api} after {wait:.0f} s; start it with `tenure up`")
        time.sleep(1.0)
    asyncio.run(apply(api, prefect))
    env.prefect_home.mkdir(parents=True, exist_ok=True)  # PREFECT_HOME of the worker and its runs
    argv = [sys.executable, "-m", "prefect", "worker", "start", "--pool", prefect.pool, "--type", "process"]
    _exec([*argv, "--limit", str(prefect.worker_limit), "--name", name], env, api)


@dataclass
class UpReport:
    api_url: str
    started: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    """Already running before this ``up``: left alone."""
    stale: list[str] = field(default_factory=list)
    """Pid files whose process had gone, removed."""
    external: bool = False
    """The API is a server tenure did not start (``PREFECT_API_URL`` or one already on the port)."""


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait(what: Managed, ready: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if what.pid() is None:
            raise StackError(
                f"the {what.name} exited during start-up; {what.log_file}:\n{_tail(what.log_file)}"
            )
        if time.monotonic() > deadline:
            what.stop()
            raise StackError(f"the {what.name} was not ready after {timeout:.0f} s; {what.log_file}:\n"
                             f"{_tail(what.log_file)}")  # fmt: skip
        time.sleep(0.5)


async def _polling(api: str, pool: str, name: str, since: datetime) -> bool:
    """Whether worker ``name`` has sent a heartbeat since ``since``. The API's ONLINE alone is not
    enough: a worker stopped a moment ago stays ONLINE until the server misses its heartbeats, and a
    server just started reads the status its database had when it stopped."""
    from prefect.client.orchestration import PrefectClient
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

    async with PrefectClient(api=api) as client:
        try:
            workers = await client.read_workers_for_work_pool(pool)
        except (ObjectNotFound, PrefectHTTPStatusError):  # no pool yet: the worker is still deploying
            return False
    return any(
        w.name == name and w.last_heartbeat_time is not None and w.last_heartbeat_time >= since
        for w in workers
    )


def up(env: Env, prefect: PrefectConfig, say: Callable[[str], None] = lambda _: None) -> UpReport:
    """Bring the server (unless an API already answers) and the worker up, waiting until the worker
    polls. Idempotent: what runs is left alone and reported."""
    server, worker = Managed("server", env.home), Managed("worker", env.home)
    report = UpReport(api_url=api_url(prefect))
    alive_since = datetime.now(UTC) - HEARTBEAT_FRESH
    for process in (server, worker):
        if process.stale():
            report.stale.append(process.name)
            process.pid_file.unlink(missing_ok=True)
    if server.pid() is not None:
        report.running.append("server")
    elif answers(report.api_url):
        report.external = True
    elif os.environ.get("PREFECT_API_URL"):
        raise StackError(f"PREFECT_API_URL={report.api_url} does not answer; start that server or unset it")
    else:
        say(f"starting the Prefect server on {prefect.host}:{prefect.port}…")
        server.start(serve_argv("server"), {**os.environ, **service_environment(env, report.api_url)})
        alive_since = datetime.now(UTC)  # no heartbeat from before this server counts
        _wait(server, lambda: answers(report.api_url), STARTUP_SECONDS)
        report.started.append("server")
    name = worker_name()
    if worker.pid() is not None or asyncio.run(_polling(report.api_url, prefect.pool, name, alive_since)):
        report.running.append("worker")  # ours, or the service's (`tenure service install`)
        return report
    say(f"deploying and starting worker {name} on pool {prefect.pool}…")
    launched = datetime.now(UTC)
    worker.start(
        serve_argv("worker", "--name", name), {**os.environ, **service_environment(env, report.api_url)}
    )
    _wait(
        worker, lambda: asyncio.run(_polling(report.api_url, prefect.pool, name, launched)), STARTUP_SECONDS
    )
    report.started.append("worker")
    return report


def down(env: Env) -> list[str]:
    """Stop the worker, then the server, that ``up`` started (by their pid files); data stays."""
    stopped = []
    for name in ("worker", "server"):
        if Managed(name, env.home).stop():
            stopped.append(name)
    return stopped
