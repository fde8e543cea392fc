"""Run an agent's Python, or a project's tests, where it can break nothing: a fresh temporary working copy,
a subprocess that raises its own walls first (``sandbox_boot``: resource limits, no network, Landlock,
an audit hook), a wall-clock limit that kills its whole process group, and output written to files and
cut to size. The copy is deleted afterwards: to keep a result, the agent calls ``write_file``.

What each OS enforces: on Linux, memory (address space), CPU time, file size and open files by
``setrlimit``; no network in a namespace of its own where the kernel lets the user make one (root, or
unprivileged user namespaces); reads limited to the Python installation and system libraries and writes
to the working copy by Landlock (kernel ≥ 5.13; TCP too from ABI 4). On macOS, CPU time, file size and
open files by ``setrlimit`` (it does not enforce an address-space limit) and the rest by the audit hook
alone, which Python code cannot pass but native code could. Everywhere: the time limit, and the process
group killed at the end, so nothing it started outlives it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Limits", "Ran", "copy_confined", "run"]

BOOT = Path(__file__).with_name("sandbox_boot.py")
SCRIPT = ".tenure_run.py"
SYSTEM_READS = ("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib", "/usr/share/zoneinfo",
                "/etc/ld.so.cache", "/etc/localtime")  # fmt: skip
"""Besides the Python installation: shared libraries, time zones."""


@dataclass(frozen=True)
class Limits:
    timeout_s: float
    memory_mb: int
    output_chars: int
    file_mb: int = 64
    """The largest file the code may write (its stdout and stderr included)."""


@dataclass(frozen=True)
class Ran:
    exit_code: int | None
    stdout: str
    stderr: str
    stopped: str | None
    """Why it was stopped before it ended by itself, in words (a limit), else None."""
    walls: list[str]
    """The walls that held, as the sandbox reported them (empty if it died before reporting)."""
    seconds: float
    output_bytes: int


def read_roots() -> list[str]:
    """What the code may read: the Python installation (prefixes, the standard library, site-packages
    and every other import path) and the system libraries; never the agent's home or workspace."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, *sysconfig.get_paths().values()}
    paths |= {p for p in sys.path if p and Path(p).is_absolute()}
    paths |= set(SYSTEM_READS)
    return sorted(p for p in paths if Path(p).exists())


def copy_confined(source: Path, target: Path) -> int:
    """Copy the regular files under ``source`` whose real path stays under it (a link out is skipped,
    so a copy never carries a file from elsewhere into the sandbox); the number of files copied."""
    root, copied = source.resolve(), 0
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if (here / d).resolve().is_relative_to(root) and not d.startswith(".git")]
        for name in files:
            real = (here / name).resolve()
            if real.is_relative_to(root) and real.is_file():
                dest = target / (here / name).relative_to(root)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(real, dest)
                copied += 1
    return copied


def _read(path: Path, limit: int, *, tail: bool = False) -> tuple[str, int]:
    """The file's text cut to ``limit`` characters (its end with ``tail``: where a traceback ends)."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        if tail:
            handle.seek(max(0, size - limit * 4))
        text = handle.read(limit * 4).decode("utf-8", errors="replace")
    if len(text) <= limit and size <= limit * 4:
        return text, size
    cut = f"[… cut: {size:,} bytes in all]"
    return (f"{cut}\n{text[-limit:]}" if tail else f"{text[:limit]}\n{cut}"), size


def _stopped(code: int | None, stderr: str, limits: Limits, timed_out: bool) -> str | None:
    if timed_out:
        return f"stopped at its time limit of {limits.timeout_s:g} s"
    if code == -signal.SIGXCPU:
        return "stopped at its CPU time limit"
    if code == -signal.SIGXFSZ:
        return f"stopped: it wrote a file or output past the {limits.file_mb} MB limit"
    if code and "MemoryError" in stderr:
        return f"stopped: it ran out of its {limits.memory_mb:,} MB memory limit"
    if code == -signal.SIGKILL:
        return "killed (out of memory?)"
    return None


def run(work: Path, limits: Limits, *, code: str | None = None, tests: bool = False) -> Ran:
    """Run ``code`` (or, with ``tests``, pytest) in the prepared working copy ``work``."""
    if code is not None:
        (work / SCRIPT).write_text(code, encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="tenure-sandbox-out-") as out_dir:
        out, err = Path(out_dir) / "stdout", Path(out_dir) / "stderr"
        walls_read, walls_write = os.pipe()
        settings = {
            "workdir": str(work.resolve()),
            "read_roots": read_roots(),
            "memory_mb": limits.memory_mb,
            "cpu_s": math.ceil(limits.timeout_s) + 1,
            "file_mb": limits.file_mb,
            "mode": "tests" if tests else "code",
            "script": SCRIPT,
            "walls_fd": walls_write,
        }
        env = {"PATH": os.defpath, "HOME": str(work), "TMPDIR": str(work), "LANG": "C.UTF-8",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
               "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # fmt: skip
        started, timed_out = time.perf_counter(), False
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-I", str(BOOT), json.dumps(settings)],
                cwd=work,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
                pass_fds=(walls_write,),
            )
        os.close(walls_write)
        try:
            proc.wait(timeout=limits.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # it, and anything it started
            proc.wait()
        seconds = time.perf_counter() - started
        with os.fdopen(walls_read, "rb") as pipe:
            reported = pipe.read(4096)
        stdout_text, out_size = _read(out, limits.output_chars)
        stderr_text, err_size = _read(err, limits.output_chars, tail=True)
    return Ran(
        exit_code=None if timed_out else proc.returncode,
        stdout=stdout_text,
        stderr=stderr_text,
        stopped=_stopped(proc.returncode, stderr_text, limits, timed_out),
        walls=json.loads(reported) if reported else [],
        seconds=seconds,
        output_bytes=out_size + err_size,
    )
