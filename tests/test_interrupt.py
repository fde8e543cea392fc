"""Ctrl-C as a terminal sends it: SIGINT to the whole process group of a real ``tenure`` command, which
includes the temporary Prefect server the command started. Every command must stop within 5 s, with one
line and exit 130, leave no process behind and leave the store readable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tenure.config import Env
from tenure.store import ScoreLog
from tenure.store.rows import TABLE_NAMES

pytestmark = pytest.mark.slow

STOP_WITHIN_S = 5.0


def start(*args: str, home: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(TENURE_HOME=str(home), COLUMNS="200", HF_HUB_OFFLINE="1")
    return subprocess.Popen(
        [sys.executable, "-m", "tenure.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, as a terminal job has
    )


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.2)


def ctrl_c(process: subprocess.Popen[str]) -> tuple[float, str, list[psutil.Process]]:
    """SIGINT to the process group of a running command; (seconds until it exited, its stderr, its
    children when the signal was sent)."""
    assert process.poll() is None, "the command ended before Ctrl-C"
    children = psutil.Process(process.pid).children(recursive=True)
    sent = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    return time.monotonic() - sent, stderr, children


def assert_stopped_cleanly(process: subprocess.Popen[str], took: float, stderr: str, children: list) -> None:
    assert took <= STOP_WITHIN_S, f"took {took:.1f} s\n{stderr}"
    assert process.returncode == 130, stderr
    assert "tenure: interrupted" in stderr and "Traceback" not in stderr, stderr
    _, alive = psutil.wait_procs(children, timeout=STOP_WITHIN_S)
    assert not alive, [p.cmdline() for p in alive]


def prefect_server_child(process: subprocess.Popen[str]) -> bool:
    """Whether the command's temporary Prefect server (a uvicorn child) is running."""
    try:
        kids = psutil.Process(process.pid).children(recursive=True)
        return any("uvicorn" in " ".join(k.cmdline()) for k in kids)
    except psutil.Error:
        return False


def test_ctrl_c_stops_an_eval_and_its_temporary_prefect_server(model_home: Path):
    process = start("eval", "--golden", "--candidate", "local:gemma-3-270m", home=model_home)
    wait_for(lambda: prefect_server_child(process), 120, "the temporary Prefect server")
    time.sleep(4)  # flows under way
    took, stderr, children = ctrl_c(process)
    assert_stopped_cleanly(process, took, stderr, children)
    log = ScoreLog(model_home / "store")
    for table in TABLE_NAMES:
        log.count(table)


def test_ctrl_c_stops_a_vault_pass_and_the_next_pass_completes(tmp_path: Path, shared_export: None):
    vault = tmp_path / "vault"
    vault.mkdir()
    for n in range(800):
        (vault / f"note-{n}.md").write_text(f"# Note {n}\n\n" + f"Paragraph {n} about topic {n % 17}.\n" * 40)
    home = Env().home
    process = start("vault", "index", str(vault), home=home)
    wait_for(lambda: (home / "vault_index").exists(), 120, "the index being written")
    time.sleep(3)
    took, stderr, children = ctrl_c(process)
    assert_stopped_cleanly(process, took, stderr, children)
    again = start("vault", "index", str(vault), home=home)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err  # the interrupted index takes the next pass
    search = start("vault", "search", "topic 3", "--mode", "keyword", "--json", home=home)
    assert search.communicate(timeout=120)[0].count('"path"') == 5 and search.returncode == 0


def test_ctrl_c_interrupts_a_long_sql_query(tmp_path: Path):
    home = Env().home
    process = start("sql", "--timeout", "600", "SELECT count(*) FROM range(100000000000000) a", home=home)
    time.sleep(6)  # imports, views, the query under way
    assert process.poll() is None
    took, stderr, children = ctrl_c(process)
    assert_stopped_cleanly(process, took, stderr, children)
