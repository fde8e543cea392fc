"""Scale-out on one machine: two process workers (``tenure serve worker``) on one work pool and one
Prefect API, which is what a second machine joining looks like (docs/scale-out.md). Each worker has a
tenure home of its own, as each machine would, whose ``store`` (the score log) is a symlink to one shared
directory: the layout the guide describes, with a local folder standing in for the network share.

Twelve ``shadow_eval`` flow runs of the ``shadow_eval/shadow_eval`` deployment are submitted; the workers
share them (each runs at most ``[prefect] worker_limit`` at once, so neither can take them all), and
every run's score row lands in the shared score log exactly once. The candidate is a loopback Ollama
fake; the task type is ``classify``, whose judge is deterministic (``label_match``): no LLM judge call.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from uuid import UUID

import pytest

from tenure.control.task import Task, parse_task
from tenure.deployments.processes import descendants
from tenure.store import ScoreLog
from tests.fakes.llm_server import FakeLLMServer, tool

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server"), pytest.mark.timeout(900)]

POOL = "two-workers-test"
"""A pool of this test's own: the deployments point at the pool of whoever applied them last."""
CANDIDATE = "ollama:qwen2.5:latest"
RUNS = 12
WORKERS = ("w1", "w2")
STARTUP_SECONDS = 120.0
RUNS_SECONDS = 600.0
"""Forty runs took 200 to 340 s on a busy 2-core machine (each flow run is a Python process of its own);
twelve are enough for both workers to take some. The bounds leave room for a slower machine and end
the test with the workers' logs before pytest's timeout does."""


def numbered_task(i: int) -> Task:
    """Task ``i``: the candidate always answers "billing", so even tasks score 1.0 and odd ones 0.0."""
    reference = "billing" if i % 2 == 0 else "spam"
    data = {"text": f"message number {i}", "labels": ["billing", "spam"]}
    return parse_task({"id": f"tw-{i:02d}", "type": "classify", "input": data, "reference": reference})


def config_file(path: Path, ollama: FakeLLMServer) -> Path:
    path.write_text(
        f"""
[providers.ollama]
base_url = "{ollama.url}"
[retry]
retries = 0
[chains]
default = ["{CANDIDATE}"]
judge = ["{CANDIDATE}"]
[task_types.classify]
candidates = ["{CANDIDATE}"]
[prefect]
pool = "{POOL}"
worker_limit = 2
""",
        encoding="utf-8",
    )
    return path


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a worker, its process group and anything it started; kill what does not exit."""
    if process.poll() is not None:
        return
    stragglers = descendants(process.pid)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    for pid in stragglers:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    for pid in stragglers:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def started() -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """The workers started by ``start``, stopped on the way out, whatever happened."""
    running: dict[str, subprocess.Popen[bytes]] = {}
    try:
        yield running
    finally:
        for process in running.values():
            stop(process)


def machine(root: Path, name: str, shared_store: Path) -> Path:
    """A tenure home of the worker's own, its ``store`` a symlink to the shared score log."""
    home = root / name / "tenure-home"
    home.mkdir(parents=True)
    (home / "store").symlink_to(shared_store, target_is_directory=True)
    return home


def start(name: str, home: Path, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``tenure serve worker --name NAME``: apply the deployments, then poll the pool."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tenure.cli", "serve", "worker", "--name", name],
            env={**env, "TENURE_HOME": str(home)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


async def until_online(name: str, process: subprocess.Popen[bytes], log: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import PrefectHTTPStatusError

    deadline = time.monotonic() + STARTUP_SECONDS
    async with get_client() as client:
        while True:
            assert process.poll() is None, f"worker {name} exited ({process.returncode}):\n{tail(log)}"
            try:
                workers = await client.read_workers_for_work_pool(POOL)
            except PrefectHTTPStatusError as exc:  # 404 until the first worker's deploy creates the pool
                assert exc.response.status_code == 404, exc
                workers = []
            if any(w.name == name and w.status and w.status.value == "ONLINE" for w in workers):
                return
            assert time.monotonic() < deadline, f"worker {name} not online:\n{tail(log)}"
            await asyncio.sleep(1.0)


async def test_two_workers_on_one_pool_share_the_runs_and_log_every_score_once(tmp_path: Path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.settings import PREFECT_API_URL

    shared = tmp_path / "share" / "store"  # what would be a network share
    shared.mkdir(parents=True)
    logs = tmp_path / "logs"
    logs.mkdir()
    tasks = [numbered_task(i) for i in range(RUNS)]
    with FakeLLMServer(responder=lambda _: tool("final_result", {"label": "billing"})) as ollama:
        config = config_file(tmp_path / "tenure.toml", ollama)
        env = {
            **os.environ,
            "TENURE_CONFIG": str(config),
            "PREFECT_API_URL": str(PREFECT_API_URL.value()),
            "PREFECT_WORKER_QUERY_SECONDS": "2",
        }  # TENURE_HOME per worker; PREFECT_HOME is then $TENURE_HOME/prefect (tenure.deployments.launch)
        with started() as workers:
            for name in WORKERS:  # one after the other, as a second machine joins a running one
                home = machine(tmp_path / "machines", name, shared)
                workers[name] = start(name, home, logs / f"{name}.log", env)
                await until_online(name, workers[name], logs / f"{name}.log")

            async with get_client() as client:
                deployment = await client.read_deployment_by_name("shadow_eval/shadow_eval")
                assert deployment.work_pool_name == POOL
                ids: list[UUID] = []
                for task in tasks:
                    parameters = {
                        "task_type": "classify",
                        "tasks": [task.model_dump(mode="json")],
                        "candidates": [CANDIDATE],
                        "source": "golden",
                        "ground_truth": "reference",
                    }
                    run = await client.create_flow_run_from_deployment(deployment.id, parameters=parameters)
                    ids.append(run.id)

                deadline = time.monotonic() + RUNS_SECONDS
                while True:
                    runs = await client.read_flow_runs(
                        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids))
                    )
                    if len(runs) == RUNS and all(r.state and r.state.is_final() for r in runs):
                        break
                    states = Counter(r.state.name if r.state else "-" for r in runs)
                    assert time.monotonic() < deadline, f"runs not finished: {dict(states)}\n" + "\n".join(
                        f"--- {n}\n{tail(logs / f'{n}.log')}" for n in WORKERS
                    )
                    await asyncio.sleep(2.0)

    failed = {r.name: (r.state.name, r.state.message) for r in runs if r.state and not r.state.is_completed()}
    assert not failed
    split = Counter(r.labels.get("prefect.worker.name") for r in runs)
    assert set(split) == set(WORKERS), split  # both took runs, and every run names its worker
    assert sum(split.values()) == RUNS

    log = ScoreLog(shared)  # read through the project's reader, as `tenure scores` does
    scores = log.records("SELECT task_id, candidate, judge, score, status, source FROM scores")
    assert Counter(s["task_id"] for s in scores) == Counter({t.id: 1 for t in tasks})  # none missing, no twin
    for s in scores:
        i = int(s["task_id"].removeprefix("tw-"))
        assert (s["candidate"], s["judge"], s["status"], s["source"]) == (
            CANDIDATE,
            "label_match",
            "ok",
            "golden",
        )
        assert s["score"] == (1.0 if i % 2 == 0 else 0.0), s
    runs_logged = Counter((r["task_id"], r["role"]) for r in log.records("SELECT task_id, role FROM runs"))
    assert runs_logged == Counter({(t.id, role): 1 for t in tasks for role in ("ground_truth", "candidate")})
