"""The long-running processes ``tenure up`` starts, each known only by its pid file.

A process runs in a session of its own with its output appended to ``$TENURE_HOME/logs/<name>.log``;
its pid file (``$TENURE_HOME/run/<name>.pid``) records the pid and the command. Stopping signals the
process group and every descendant found at that moment (a Prefect worker starts each flow run in a
session of its own), so nothing we started outlives ``tenure down``. A pid file whose process is gone,
or whose pid now belongs to some other program, is stale: it is reported and removed, never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Managed", "command_line", "descendants"]


PROC = Path("/proc/self").exists()
"""Linux: read processes from /proc; elsewhere (macOS) ask ``ps``."""


def command_line(pid: int) -> str | None:
    """The command line of a live process, or ``None`` if there is no such process."""
    if PROC:
        try:
            return (
                Path(f"/proc/{pid}/cmdline")
                .read_bytes()
                .replace(b"\0", b" ")
                .decode(errors="replace")
                .strip()
            )
        except OSError:
            return None
    run = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True)
    return run.stdout.strip() or None


def _parents() -> list[tuple[int, int]]:
    """(pid, parent pid) of every process visible now."""
    if not PROC:
        listing = subprocess.run(["ps", "-A", "-o", "pid=,ppid="], capture_output=True, text=True)
        return [
            (int(a), int(b))
            for a, b in (line.split() for line in listing.stdout.splitlines() if line.strip())
        ]
    pairs = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pairs.append((int(stat.parent.name), int(stat.read_text().rsplit(")", 1)[1].split()[1])))
        except (OSError, IndexError, ValueError):
            continue
    return pairs


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` now (a Prefect worker starts each flow run in a session of its own, so
    its process group misses them)."""
    tree: dict[int, list[int]] = {}
    for child, parent in _parents():
        tree.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap(pid: int) -> None:
    """Collect a child of this process that has exited, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


@dataclass(frozen=True)
class Managed:
    """One named process under ``home`` (``server`` or ``worker``)."""

    name: str
    home: Path

    @property
    def pid_file(self) -> Path:
        return self.home / "run" / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / f"{self.name}.log"

    def recorded(self) -> dict | None:
        """What the pid file says (pid, command, start time), or ``None`` without a readable one."""
        try:
            record = json.loads(self.pid_file.read_text())
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) and isinstance(record.get("pid"), int) else None

    def pid(self) -> int | None:
        """The pid if the recorded process is alive and still ours, else ``None``."""
        record = self.recorded()
        if record is None:
            return None
        pid = record["pid"]
        if not _alive(pid):
            _reap(pid)
            return None
        line = command_line(pid) or ""
        return pid if self.name in line and ("tenure" in line or "prefect" in line) else None

    def stale(self) -> bool:
        """A pid file exists but its process is gone or is not ours."""
        return self.pid_file.exists() and self.pid() is None

    def start(self, argv: list[str], env: dict[str, str]) -> int:
        """Start ``argv`` detached (own session, output to the log file) and record it."""
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {' '.join(argv)}\n".encode())
            log.flush()
            child = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, close_fds=True,
            )  # fmt: skip
        record = {"pid": child.pid, "argv": argv, "started": time.time()}
        partial = self.pid_file.with_suffix(".tmp")
        partial.write_text(json.dumps(record))
        partial.replace(self.pid_file)
        return child.pid

    def stop(self, timeout: float = 20.0) -> bool:
        """Stop the process, its group and its descendants (TERM, then KILL after ``timeout``);
        remove the pid file. Returns whether a live process was stopped."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        targets = [pid, *descendants(pid)]
        self._signal(pid, targets, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(_alive(p) for p in targets):
            for p in targets:
                _reap(p)
            time.sleep(0.2)
        if any(_alive(p) for p in targets):
            self._signal(pid, [*targets, *descendants(pid)], signal.SIGKILL)
            time.sleep(0.2)
        _reap(pid)
        self.pid_file.unlink(missing_ok=True)
        return True

    @staticmethod
    def _signal(leader: int, targets: list[int], sig: signal.Signals) -> None:
        if sys.platform != "win32":
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(leader, sig)
        for p in targets:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p, sig)
