"""What no command may show a person: a hang on Ctrl-C, or a traceback.

Ctrl-C (SIGINT, which a terminal sends to the whole process group, so also to the temporary Prefect
server a command starts) prints one line and exits 130. The interrupt is raised in the command as
usual, so it can stop where it is (a running query is interrupted); once it has, the command's child
processes are stopped and the process exits without the interpreter's shutdown, which would wait on
Prefect reporting a crashed run to a server that just stopped, or abort on a thread still inside
DuckDB. If the command has not stopped within a few seconds, the same happens anyway; a second Ctrl-C
does it at once. Everything tenure writes is written to a temporary
name and renamed, so an exit at any point leaves nothing half-written.

A usage error (an unknown option, a value out of range) is one line too, with where to find help.
An error no command turned into a clear line is a bug: it prints one line, and the traceback goes to
``$TENURE_HOME/logs/crash-*.txt`` (``TENURE_DEBUG=1`` shows it instead).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType

__all__ = ["GRACE_S", "guarded"]

GRACE_S = 3.0
"""How long an interrupted command may take to stop by itself."""


def _stop_children() -> None:
    """Stop this process's children (a temporary Prefect server, a model subprocess): TERM, then KILL."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        child.terminate()
    _, alive = psutil.wait_procs(children, timeout=1.0)
    for child in alive:
        child.kill()


def _exit_now(*_: object) -> None:
    try:
        _stop_children()
    finally:
        os._exit(130)


def _flush_and_exit_now() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    _exit_now()


def _exit_later() -> None:
    time.sleep(GRACE_S)
    _exit_now()


def _interrupted(signum: int, frame: FrameType | None) -> None:
    sys.stderr.write("\ntenure: interrupted\n")
    sys.stderr.flush()
    signal.signal(signal.SIGINT, _exit_now)
    threading.Thread(target=_exit_later, name="tenure-interrupted", daemon=True).start()
    raise KeyboardInterrupt


def _crash_file(home: Path) -> Path | None:
    """Where to keep a traceback: under ``$TENURE_HOME/logs`` if that is a folder tenure can write."""
    if not home.is_dir():
        return None
    try:
        logs = home / "logs"
        logs.mkdir(exist_ok=True)
        path = logs / f"crash-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.txt"
        path.write_text(traceback.format_exc())
    except OSError:
        return None
    return path


def guarded(app: Callable[..., object]) -> None:
    """Run the command line ``app`` (a typer app) under the rules above."""
    import typer
    from typer._click import exceptions as click  # typer (pinned <0.30) carries its own click

    signal.signal(signal.SIGINT, _interrupted)
    try:
        code = app(standalone_mode=False)
    except KeyboardInterrupt:
        _flush_and_exit_now()
    except typer.Abort:  # Ctrl-D at a prompt
        sys.exit(130)
    except click.ClickException as exc:
        command = exc.ctx.command_path if isinstance(exc, click.UsageError) and exc.ctx else "tenure"
        sys.stderr.write(f"{command}: {exc.format_message()} (see {command} --help)\n")
        sys.exit(exc.exit_code)
    except Exception as exc:
        if os.environ.get("TENURE_DEBUG"):
            raise
        home = Path(os.environ.get("TENURE_HOME", "~/.tenure")).expanduser()
        saved = _crash_file(home)
        where = (
            f"the traceback is in {saved}" if saved else "run again with TENURE_DEBUG=1 to see the traceback"
        )
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        sys.stderr.write(f"tenure: unexpected {type(exc).__name__}: {first} ({where}; please report it)\n")
        sys.exit(1)
    if code == 130:  # typer turns the interrupt into exit code 130
        _flush_and_exit_now()
    sys.exit(code if isinstance(code, int) else 0)
