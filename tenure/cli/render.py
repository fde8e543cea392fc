"""How results look in a terminal: call records, turns, the scoreboard, index reports, search hits."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tenure.cli.common import err, out

if TYPE_CHECKING:  # the renderers only read these; importing them would load pydantic-ai and LanceDB
    from tenure.agents.turn import TurnResult
    from tenure.config import TenureConfig
    from tenure.control.scoreboard import BoardRow
    from tenure.memory.search import Hit
    from tenure.models import CallResult

__all__ = [
    "print_json_lines",
    "render_hits",
    "render_index_report",
    "render_result",
    "render_scores",
    "render_table",
    "render_turn",
    "scores_table",
]


def print_json_lines(records: list[dict[str, Any]]) -> None:
    """One JSON object per line on stdout, for scripts."""
    for record in records:
        sys.stdout.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")


def render_result(result: CallResult, console: Console = out) -> None:
    """The record of one call: who served, what it cost, and every attempt on the way."""
    cost = "unknown" if result.cost_usd is None else f"${result.cost_usd:.6f}"
    console.print(
        f"[bold]served by[/bold] {result.served_by or '-'}  [dim]asked[/dim] {result.requested}  "
        f"[dim]tokens[/dim] {result.input_tokens}→{result.output_tokens}  [dim]cost[/dim] {cost}  "
        f"[dim]latency[/dim] {result.latency_ms:.0f} ms  [dim]fallbacks[/dim] {len(result.fallbacks)}"
    )
    by_reason: dict[str, list[str]] = {}
    for skip in result.skipped:
        by_reason.setdefault(skip.reason, []).append(skip.model)
    for reason, models in by_reason.items():
        console.print(f"[dim]skipped[/dim] {', '.join(models)}: {reason}", highlight=False)
    if not result.attempts:
        return
    table = Table("model", "outcome", "error", "why", "ms", box=None, pad_edge=False)
    for a in result.attempts:
        style = {"ok": "green", "failed": "red", "skipped": "dim"}.get(a.outcome, "yellow")
        table.add_row(
            a.model, f"[{style}]{a.outcome}[/{style}]", a.error or "", a.reason or "", f"{a.latency_ms:.0f}"
        )
    console.print(table)


def render_turn(result: TurnResult, config: TenureConfig, indent: str = "") -> None:
    """A turn as the user reads it: the answer, then who served, cost, tools and dispatches."""
    emoji = config.agents[result.agent].emoji if result.agent in config.agents else ""
    if result.answer:
        out.print(
            Text(f"{indent}{emoji} {result.agent}: ", style="bold")
            + Text(result.answer.strip(), style="cyan")
        )
    if result.message:
        out.print(Text(f"{indent}{result.message}", style="yellow" if result.outcome == "limit" else "red"))
    cost = "unknown" if result.cost_usd is None else f"${result.cost_usd:.6f}"
    out.print(
        f"{indent}[dim]served by[/dim] {', '.join(result.served_by) or '-'}  "
        f"[dim]requests[/dim] {result.requests}  "
        f"[dim]tokens[/dim] {result.input_tokens}→{result.output_tokens}  [dim]cost[/dim] {cost}  "
        f"[dim]thread[/dim] {result.thread}",
        highlight=False,
    )
    for skip in result.skipped:
        out.print(f"{indent}[dim]skipped[/dim] {skip}", highlight=False)
    if result.tools_note:
        out.print(Text(f"{indent}{result.tools_note}", style="yellow"))
    for note in result.notes:
        err.print(Text(f"{indent}note: {note}", style="yellow"))
    calls = ", ".join(f"{c.name} ({c.detail})" + ("" if c.ok else " ✗") for c in result.tool_calls)
    out.print(f"{indent}[dim]tool calls[/dim] {calls or 'none'}", highlight=False)
    for sub in result.dispatched:
        out.print(f"{indent}[dim]dispatched to[/dim] {sub.agent}:")
        render_turn(sub, config, indent + "    ")


_STATUS_STYLE = {"promote": "green", "promoted": "green", "reject": "red", "rejected": "red", "demote": "red"}


def render_scores(rows: list[BoardRow], as_json: bool = False) -> None:
    """The scoreboard: each stream with n, mean, the gate's bound where it is evidence, and its status."""
    if as_json:
        print_json_lines([asdict(r) for r in rows])
        return
    out.print(scores_table(rows))


def scores_table(rows: list[BoardRow]) -> Table | str:
    """The scoreboard as ``tenure scores`` prints it (and ``tenure report`` shows it)."""
    if not rows:
        return "no scores yet: run 'tenure eval --golden' or 'tenure demo'"
    table = Table(
        title="scoreboard", caption="evidence: what the promotion gate reads; shown: nothing gates on it"
    )
    for name in ("model", "task type", "judge"):
        table.add_column(name, overflow="fold")
    for name in ("n", "mean", "bound"):
        table.add_column(name, justify="right", no_wrap=True, min_width=5)
    table.add_column("gate", min_width=10)
    for r in rows:
        style = _STATUS_STYLE.get(r.status, "dim" if r.use == "shown" else "")
        status = f"[{style}]{r.status}[/{style}]" if style else r.status
        failures = f"{r.judge_failures} judge failures" if r.judge_failures else ""
        notes = list(dict.fromkeys(n for n in (r.detail, r.note, r.paused, failures) if n))
        bound = "-" if r.bound is None else f"{r.bound:.3f}"
        judge = r.judge + (" (canary)" if r.use == "canary" else "")
        table.add_row(
            r.model,
            r.task_type,
            judge,
            str(r.n),
            f"{r.mean:.3f}",
            bound,
            status + (f": {'; '.join(notes)}" if notes else ""),
        )
    return table


def render_table(columns: list[str], rows: list[tuple[Any, ...]], title: str | None = None) -> None:
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    out.print(table)


def render_index_report(report: dict[str, Any], console: Console = out) -> None:
    """The change report of one ``vault_embed`` pass: notes and chunks by what happened to them."""
    table = Table("", "new", "updated", "unchanged", "removed", "skipped", "embedded", box=None)
    table.add_row(
        "notes",
        *(str(report[f"notes_{k}"]) for k in ("new", "updated", "unchanged", "removed", "skipped")),
        "",
    )
    table.add_row(
        "chunks",
        *(str(report[f"chunks_{k}"]) for k in ("new", "updated", "unchanged", "removed")),
        "",
        str(report["chunks_embedded"]),
    )
    console.print(table)
    for warning in report["warnings"]:
        console.print(Text(f"warning: {warning}", style="yellow"))


def render_hits(hits: list[Hit], as_json: bool) -> None:
    if as_json:
        print_json_lines([hit.as_json() for hit in hits])
        return
    if not hits:
        out.print("no matching notes")
    for n, hit in enumerate(hits, 1):
        where = " › ".join((hit.path, *hit.headings[-2:]))
        line = Text(f"{n}. ", style="bold") + Text(where, style="bold cyan")
        line += Text(f"  {hit.score:.4g}" + (f"  {hit.date}" if hit.date else ""), style="dim")
        if hit.stale:
            line += Text("  changed since indexed", style="yellow")
        out.print(line)
        out.print(Text(f"   {hit.snippet}"))
