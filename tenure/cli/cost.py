"""``tenure cost``: what the team spent, what each month came to, and what promotions saved."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tenure.cli.common import duration, load, out

if TYPE_CHECKING:  # the ledger's module loads DuckDB: only when a command runs
    from tenure.control.costs import Ledger

__all__ = ["cost", "ledger_tables", "since_time"]


class Group(StrEnum):
    model = "model"
    provider = "provider"
    agent = "agent"
    task_type = "task_type"
    day = "day"


def since_time(text: str) -> datetime:
    """The start of a ``--since`` window (``30d``: thirty days ago)."""
    return datetime.now(UTC) - duration(text)


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:,.4f}"


def cost(
    since: Annotated[str, typer.Option(help="How far back: 30d, 12h, 90m.")] = "30d",
    by: Annotated[
        Group, typer.Option(help="Group the run spend by model, provider, agent, task_type or day.")
    ] = (Group.model),
    json_out: Annotated[bool, typer.Option("--json", help="The whole ledger as one JSON object.")] = False,
) -> None:
    """Spend from the run records (judging apart), each month with the fixed costs of [costs.monthly],
    and the savings of every promoted task type (priced from its shadow pairs; the method is printed)."""
    from tenure.control.costs import ledger

    rt = load()
    book = ledger(rt.log, rt.config, since_time(since), by.value)
    if json_out:
        data = dataclasses.asdict(book) | {"runs_usd": book.runs_usd, "judging_usd": book.judging_usd,
                                           "saved_usd": book.saved_usd}  # fmt: skip
        sys.stdout.write(json.dumps(data, default=str, indent=2) + "\n")
        return
    for renderable in ledger_tables(book):
        out.print(renderable)


def ledger_tables(book: Ledger) -> list[Table | str]:
    """The ledger as ``tenure cost`` prints it (and ``tenure report`` shows it): spend, months, savings."""
    spend = Table(
        book.by, "calls", "spent", "unpriced calls", title=f"spend since {book.since:%Y-%m-%d %H:%M} UTC"
    )
    for line in book.lines:
        spend.add_row(line.key, str(line.calls), _usd(line.usd), str(line.unpriced or ""))
    spend.add_row("[bold]runs[/bold]", "", f"[bold]{_usd(book.runs_usd)}[/bold]", "")
    for line in book.judging:
        spend.add_row(f"judging: {line.key}", str(line.calls), _usd(line.usd), str(line.unpriced or ""))
    spend.add_row("[bold]judging[/bold]", "", f"[bold]{_usd(book.judging_usd)}[/bold]", "")
    months = Table("month", "API and judging", *(book.months[0].fixed if book.months else ()), "total",
                   title="per month")  # fmt: skip
    for m in book.months:
        months.add_row(m.month, _usd(m.variable_usd), *(_usd(v) for v in m.fixed.values()), _usd(m.total_usd))
    if not book.savings:
        return [spend, months, "no promoted task type answered in this window: nothing saved yet"]
    columns = (
        "task type",
        "local answers",
        "ground truth per task",
        "pairs",
        "spent",
        "avoided",
        "saved",
    )
    saved = Table(*columns, title="what promotions saved", caption=book.method)
    for s in book.savings:
        saved.add_row(s.task_type, str(s.answers), _usd(s.unit_usd), str(s.pairs), _usd(s.spent_usd),
                      _usd(s.avoided_usd), _usd(s.saved_usd))  # fmt: skip
    return [spend, months, saved]
