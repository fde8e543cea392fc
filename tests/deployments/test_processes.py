"""The pid files `tenure up` keeps: a process is ours only while its pid file names a live process with
our command line; stopping takes its descendants too, even those in sessions of their own."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tenure.deployments.processes import Managed, _alive, command_line

# A stand-in for `tenure serve worker`: its command line names tenure and the worker, and like a
# Prefect worker it starts a child (a flow run) in a session of its own, then waits.
PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
print(child.pid, flush=True)
time.sleep(600)
"""


def _start(managed: Managed) -> int:
    return managed.start([sys.executable, "-c", PARENT, "tenure", "serve", managed.name], env={})


def _child_of(managed: Managed) -> int:
    """The pid the stand-in printed (its log is its stdout)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lines = managed.log_file.read_text().splitlines()
        if lines and lines[-1].strip().isdigit():
            return int(lines[-1])
        time.sleep(0.1)
    raise AssertionError(f"no child pid in {managed.log_file}")


def test_a_started_process_is_recorded_and_stop_takes_its_descendants(tmp_path: Path):
    worker = Managed("worker", tmp_path)
    pid = _start(worker)
    child = _child_of(worker)
    try:
        assert worker.pid() == pid
        assert not worker.stale()
        record = json.loads(worker.pid_file.read_text())
        assert record["pid"] == pid
        assert record["argv"][-3:] == ["tenure", "serve", "worker"]

        assert worker.stop(timeout=10) is True
        assert not _alive(pid)
        assert not _alive(child)  # in a session of its own, found as a descendant
        assert not worker.pid_file.exists()
        assert worker.stop() is False  # nothing left to stop
    finally:
        for leftover in (pid, child):
            subprocess.run(["kill", "-9", str(leftover)], capture_output=True)


def test_a_pid_file_of_a_gone_process_is_stale(tmp_path: Path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    server = Managed("server", tmp_path)
    server.pid_file.parent.mkdir(parents=True)
    server.pid_file.write_text(json.dumps({"pid": gone.pid, "argv": [], "started": 0}))

    assert server.pid() is None
    assert server.stale()
    assert server.stop() is False
    assert not server.pid_file.exists()


def test_a_pid_reused_by_another_program_is_stale_and_never_signalled(tmp_path: Path):
    stranger = subprocess.Popen(["sleep", "60"])
    while command_line(stranger.pid) != "sleep 60":  # until the fork has become `sleep`
        time.sleep(0.01)
    try:
        server = Managed("server", tmp_path)
        server.pid_file.parent.mkdir(parents=True)
        server.pid_file.write_text(json.dumps({"pid": stranger.pid, "argv": [], "started": 0}))

        assert server.stale()
        assert server.stop() is False
        assert stranger.poll() is None  # still running: not ours, not touched
    finally:
        stranger.kill()
        stranger.wait()


def test_an_unreadable_pid_file_is_stale(tmp_path: Path):
    worker = Managed("worker", tmp_path)
    worker.pid_file.parent.mkdir(parents=True)
    worker.pid_file.write_text("not json")
    assert worker.recorded() is None
    assert worker.stale()
