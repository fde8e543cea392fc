"""What every command shares: the two consoles, loading the runtime, durations as options, and failing
with one clear line."""

from __future__ import annotations

import os
import re
import sys
from datetime import timedelta
from typing import NoReturn

import typer
from rich.console import Console
from rich.text import Text

from tenure.config import ConfigError, PrefectConfig
from tenure.runtime import Runtime, runtime

__all__ = ["duration", "err", "fail", "load", "out"]

out = Console()
err = Console(stderr=True, soft_wrap=True)  # one message, one line
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhd])\s*$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


def duration(text: str) -> timedelta:
    """An option's span of time: a number and m, h or d (``90m``, ``24h``, ``30d``, ``1.5h``)."""
    match = _DURATION.match(text)
    if not match:
        raise typer.BadParameter(f"{text!r}: use a number and d, h or m, e.g. 30d, 24h or 90m")
    return float(match.group(1)) * _UNITS[match.group(2)]


def load() -> Runtime:
    """The validated runtime, or exit 2 with one line per bad config key (nothing is started)."""
    try:
        rt = runtime()
    except ConfigError as exc:
        err.print(f"[red]invalid configuration[/red] ({len(exc.problems)} problem(s)):")
        for line in str(exc).splitlines():
            err.print(f"  {line}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    _join_running_server(rt.config.prefect)
    return rt


def _join_running_server(prefect: PrefectConfig) -> None:
    """While ``tenure up`` (or the services) run, this command's flow runs and events go to that server,
    so they show in its UI; otherwise Prefect runs them on a temporary local server. Only before Prefect
    is loaded (it reads its settings once) and only if nothing chose an API already."""
    from tenure.deployments.api import answers

    if "prefect" not in sys.modules and "PREFECT_API_URL" not in os.environ and answers(prefect.api_url, 0.5):
        os.environ["PREFECT_API_URL"] = prefect.api_url


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``message`` in red on stderr and exit with ``code`` (2: bad input, 1: it did not work)."""
    err.print(Text(message, style="red"))
    raise typer.Exit(code)
