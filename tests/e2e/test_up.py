"""tenure as a user runs it for good: `tenure up` on a fresh home, a turn through the deployment on the
worker, `tenure status`, the Prefect UI in headless Chromium, `tenure down` leaving nothing behind.

Everything is real: the Prefect server and worker that `tenure up` starts, the embedded model, the UI
the server serves, Debian's chromium (`.ci/run` installs it). The screenshot of the runs page is kept in
``test-artifacts/e2e/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tenure.deployments.processes import command_line

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ours(home: Path) -> list[str]:
    """Every live process started with this tenure home in its environment, as ``pid command``."""
    marker = f"TENURE_HOME={home}".encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if int(proc.name) != os.getpid() and marker in (proc / "environ").read_bytes().split(b"\0"):
                found.append(f"{proc.name} {command_line(int(proc.name))}")
        except (OSError, ValueError):
            continue
    return found


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    pytest.fail("no chromium on PATH: `apt-get install chromium` (.ci/run installs it)")


def _browse(url: str, *action: str, profile: Path) -> str:
    """Load ``url`` in headless Chromium until the page's own requests settle, then run ``action``
    (``--dump-dom`` or ``--screenshot=…``); returns stdout (the rendered DOM for ``--dump-dom``)."""
    shutil.rmtree(profile, ignore_errors=True)  # a fresh profile: nothing cached from a former load
    argv = [
        _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        f"--user-data-dir={profile}", "--window-size=1400,1000", "--run-all-compositor-stages-before-draw",
        "--virtual-time-budget=30000", *action, url,
    ]  # fmt: skip
    run = subprocess.run(argv, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


def _rendered(url: str, text: str, profile: Path) -> str:
    """The rendered DOM of ``url`` once it shows ``text`` (a freshly started UI may need a second load)."""
    dom = ""
    for _ in range(3):
        dom = _browse(url, "--dump-dom", profile=profile)
        if text in dom:
            break
    return dom


@pytest.fixture
def home(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A fresh tenure home on a free port, as the environment of every command; `tenure down` after
    the test whatever happened, then nothing of ours may be left running."""
    home = tmp_path / "home"
    home.mkdir()
    config = home / "tenure.toml"
    config.write_text(f"[prefect]\nport = {_free_port()}\n")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "PREFECT_API_URL"}
    env.update(TENURE_HOME=str(home), TENURE_CONFIG=str(config), COLUMNS="200", HF_HUB_OFFLINE="1")
    try:
        yield env
    finally:
        subprocess.run([str(BIN / "tenure"), "down"], env=env, capture_output=True, timeout=120)
    assert _ours(home) == []


def _run(env: dict[str, str], *argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    assert run.returncode == 0, f"{' '.join(argv)}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return run


def test_up_runs_a_turn_on_the_worker_and_the_ui_lists_it(home: dict[str, str]):
    tenure, prefect = str(BIN / "tenure"), str(BIN / "prefect")
    began = time.monotonic()
    first = _run(home, tenure, "up")
    print(f"tenure up on a fresh home: {time.monotonic() - began:.1f} s")  # the figure BENCHMARKS.md cites
    assert "started server and worker" in first.stdout
    for deployment in ("agent_turn/agent_turn", "aggregate_confidence/aggregate_confidence"):
        assert deployment in first.stdout
    api = first.stdout.split("export PREFECT_API_URL=")[1].split()[0]
    ui = api.removesuffix("/api")

    again = _run(home, tenure, "up")
    assert "already running (server, worker): nothing changed" in again.stdout

    with_api = {**home, "PREFECT_API_URL": api}
    turn = _run(
        with_api, prefect, "deployment", "run", "agent_turn/agent_turn", "-p", "message=hello", "--watch"
    )
    assert "Completed" in turn.stdout
    _run(with_api, prefect, "deployment", "run", "aggregate_confidence/aggregate_confidence", "--watch")

    status = json.loads(_run(home, tenure, "status", "--json").stdout)
    turns = [r for r in status["recent"] if r["flow"] == "agent_turn"]
    assert [r["state"] for r in turns] == ["Completed"]
    assert {"agent:loki", "source:live"} <= set(turns[0]["tags"])
    assert [w["status"] for w in status["workers"]] == ["ONLINE"]

    profile = Path(home["TENURE_HOME"]).parent / "chromium"
    runs_page = _rendered(f"{ui}/runs", turns[0]["name"], profile)
    assert turns[0]["name"] in runs_page  # the run's name, as the UI lists it
    assert "agent:loki" in runs_page
    assert "scoreboard" in _rendered(f"{ui}/artifacts", "scoreboard", profile)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "runs-page.png"
    screenshot.unlink(missing_ok=True)
    _browse(f"{ui}/runs", f"--screenshot={screenshot}", profile=profile)
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    stopped = _run(home, tenure, "down")
    assert "stopped worker and server" in stopped.stdout
    assert _ours(Path(home["TENURE_HOME"])) == []
