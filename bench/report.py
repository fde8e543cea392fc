"""What every benchmark shares: interleaved timing, the results row, and the rich / Markdown tables."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

WARMUP_CALLS = 10
BLOCK = 20  # calls per variant per round; variants alternate block by block to spread drift evenly


@dataclass(frozen=True)
class Row:
    """One line of the results table."""

    measurement: str
    result: str
    target: str = ""
    notes: str = ""


def mark(met: bool) -> str:
    return "✓" if met else "✗"


def p90(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=10)[-1] if len(samples) > 1 else samples[0]


async def measure(variants: dict[str, Callable[[], Awaitable[Any]]], calls: int) -> dict[str, list[float]]:
    """Per-call milliseconds of each variant: warm-up, then blocks of ``BLOCK`` calls, rotating the order."""
    for fn in variants.values():
        for _ in range(WARMUP_CALLS):
            await fn()
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    round_no = 0
    while any(len(t) < calls for t in times.values()):
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            fn = variants[name]
            for _ in range(min(BLOCK, calls - len(times[name]))):
                started = time.perf_counter()
                await fn()
                times[name].append((time.perf_counter() - started) * 1000)
        round_no += 1
    return times


def version(*dists: str) -> str:
    """The installed version of the first of ``dists`` that is installed."""
    for dist in dists:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "?"


def context_line(load: float, libraries: tuple[str, ...]) -> str:
    """CPU count, load, Python and library versions: the machine the numbers belong to."""
    versions = " · ".join(f"{lib} {version(lib, f'{lib}-slim')}" for lib in libraries)
    return (
        f"{os.cpu_count()} CPUs · {platform.machine()} {platform.system()} · load avg at start {load:.2f} · "
        f"Python {platform.python_version()} · {versions}"
    )


def print_rich(rows: list[Row], context: str, title: str) -> None:
    """The results as a rich table."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, caption=context, show_lines=True)
    table.add_column("Measurement", style="bold", min_width=20)
    table.add_column("Result", min_width=20)
    table.add_column("Target", no_wrap=True)
    table.add_column("Notes", style="dim", ratio=1)
    for row in rows:
        table.add_row(*(Text(cell) for cell in (row.measurement, row.result, row.target, row.notes)))
    console = Console()
    if not console.is_terminal:  # piped or redirected: don't squeeze the notes into 80 columns
        console = Console(width=180)
    console.print(table)


def markdown(rows: list[Row], context: str) -> str:
    """The results as a Markdown table (for BENCHMARKS.md)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| Measurement | Result | Target | Notes |", "|---|---|---|---|"]
    lines += [
        f"| {cell(r.measurement)} | {cell(r.result)} | {cell(r.target)} | {cell(r.notes)} |" for r in rows
    ]
    return "\n".join([*lines, "", f"Machine: {context}"])


def show(rows: list[Row], context: str, title: str, also_markdown: bool) -> None:
    """Every bench's output: the rich table, then (``--markdown``) the same rows for BENCHMARKS.md."""
    print_rich(rows, context, title)
    if also_markdown:
        print()
        print(markdown(rows, context))


def positive(text: str) -> int:
    """argparse type: a positive integer."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value
