"""What every command shares: the two consoles, loading the runtime, and failing with one clear line."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.text import Text

from tenure.config import ConfigError
from tenure.runtime import Runtime, runtime

__all__ = ["err", "fail", "load", "out"]

out = Console()
err = Console(stderr=True)


def load() -> Runtime:
    """The validated runtime, or exit 2 with one line per bad config key (nothing is started)."""
    try:
        return runtime()
    except ConfigError as exc:
        err.print(f"[red]invalid configuration[/red] ({len(exc.problems)} problem(s)):")
        for line in str(exc).splitlines():
            err.print(f"  {line}", markup=False, highlight=False)
        raise typer.Exit(2) from None


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``message`` in red on stderr and exit with ``code`` (2: bad input, 1: it did not work)."""
    err.print(Text(message, style="red"))
    raise typer.Exit(code)
