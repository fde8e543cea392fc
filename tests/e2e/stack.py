"""What the end-to-end tests share: a fresh tenure home on a free port, commands run as a user would,
and a check that nothing of that home is left running."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tenure.deployments.processes import command_line

__all__ = ["BIN", "free_port", "ours", "run_ok"]

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ours(home: Path) -> list[str]:
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


def run_ok(env: dict[str, str], *argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    assert run.returncode == 0, f"{' '.join(argv)}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return run
