"""The control plane's commands: eval, route, scores, promote / demote / promotions, backtest, sql."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TimeElapsedColumn
from rich.text import Text

from tenure.cli.common import fail, load, out
from tenure.cli.render import print_json_lines, render_result, render_scores, render_table
from tenure.control.task import TaskError
from tenure.runtime import Runtime

if TYPE_CHECKING:
    from tenure.control.task import Task

__all__ = ["backtest", "demote", "eval_", "promote", "promotions", "route", "run_golden", "scores", "sql"]


def run_golden(
    rt: Runtime,
    types: list[str] | None,
    limit: int | None,
    candidates: list[str] | None,
    replay: bool = False,
) -> None:
    """Shadow-evaluate golden tasks, one ``shadow_eval`` flow run per type, with a progress bar; exits 1
    if no candidate's answer could be scored, with each candidate's last error."""
    from tenure.control.golden import ground_truth_source, load_golden
    from tenure.flows.shadow_eval import shadow_eval
    from tenure.store.analysis import last_errors

    by_type: dict[str, list[Task]] = {}
    for task in load_golden(types, limit):
        by_type.setdefault(task.type, []).append(task)
    sources = {t: ground_truth_source(rt.config, rt.home, t, replay=replay) for t in by_type}
    if "chain" in sources.values():
        out.print(
            "ground truth: asked live from each type's ground-truth chain (--replay uses the references)"
        )
    else:
        out.print("ground truth: the golden references, replayed (no ground-truth model is reachable)")

    async def run_all(progress: Progress, bar: TaskID) -> int:
        scored = 0
        for task_type, batch in by_type.items():
            progress.update(bar, description=f"shadow_eval/{task_type}")
            mode: Literal["chain", "reference"] = "chain" if sources[task_type] == "chain" else "reference"
            summary = await shadow_eval(
                task_type, tasks=batch, candidates=candidates, source="golden", ground_truth=mode
            )
            scored += sum(int(s["scored"]) for s in summary.values())
            progress.advance(bar, len(batch))
        return scored

    columns = (SpinnerColumn(), "{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    started = datetime.now(UTC)
    with Progress(*columns, console=out) as progress:
        total = sum(len(b) for b in by_type.values())
        scored = asyncio.run(run_all(progress, progress.add_task("shadow evaluation", total=total)))
    if total and not scored:
        why = "; ".join(f"{model}: {error}" for model, error in last_errors(rt.log, started).items())
        fail(f"no candidate's answer could be scored ({why or 'no answers'})", 1)


def show_scores(rt: Runtime, as_json: bool = False) -> None:
    from tenure.control.scoreboard import scoreboard

    render_scores(scoreboard(rt.log, rt.config), as_json=as_json)


def _check_candidates(rt: Runtime, ids: list[str]) -> None:
    """Exit before any flow starts if a candidate given by name cannot answer here."""
    from tenure.models.availability import Unavailable, check_candidates

    try:
        check_candidates(ids, rt.config, rt.home)
    except ValueError as exc:
        fail(str(exc))
    except Unavailable as exc:
        fail(str(exc), 1)


def eval_(
    golden: Annotated[
        bool, typer.Option("--golden", help="Run the golden task set (shipped with tenure).")
    ] = False,
    pending: Annotated[bool, typer.Option("--pending", help="Shadow routed tasks not shadowed yet.")] = False,
    replay: Annotated[
        bool, typer.Option(help="Golden: use the references as ground truth even with keys.")
    ] = False,
    types: Annotated[str | None, typer.Option(help="Comma-separated task types (default: all).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most N tasks per type.")] = None,
    candidate: Annotated[
        list[str] | None,
        typer.Option("--candidate", help="Candidate model id (repeatable; default: config)."),
    ] = None,
) -> None:
    """Shadow-evaluate candidates against references and log every run and score."""
    if golden == pending:
        fail("pass exactly one of --golden (the golden set) or --pending (routed tasks not shadowed yet)")
    rt = load()
    _check_candidates(rt, candidate or [])
    try:
        if golden:
            run_golden(rt, types.split(",") if types else None, limit, candidate or None, replay=replay)
        else:
            from tenure.flows.shadow_eval import shadow_pending

            with out.status("shadowing routed tasks…"):
                drained = asyncio.run(shadow_pending(limit=limit or 100))
            out.print(f"shadowed: {json.dumps(drained) if drained else 'nothing was pending'}")
    except ValueError as exc:
        fail(str(exc))
    show_scores(rt)


def route(
    task_type: Annotated[str, typer.Argument(metavar="TYPE", help="analyze, classify, extract, format, …")],
    input_file: Annotated[
        str, typer.Option("--input", "-i", help="JSON file with the task input, or '-'.")
    ] = "-",
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the answer and its record as JSON.")
    ] = False,
) -> None:
    """Answer a commodity task from its ground-truth chain now, and queue it for shadow evaluation."""
    from tenure.control.routing import RoutingFailed, route_task
    from tenure.control.task import parse_task
    from tenure.models import ChainUnavailable

    rt = load()
    try:
        raw = sys.stdin.buffer.read() if input_file == "-" else Path(input_file).read_bytes()
        task = parse_task(raw, task_type=task_type)
        routed = asyncio.run(route_task(task, rt.config, rt.home))
    except TaskError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot read the task input {input_file}: {exc.strerror or exc}")
    except (RoutingFailed, ChainUnavailable) as exc:
        fail(str(exc), 1)
    if json_out:
        record = routed.result.model_dump(mode="json", exclude={"output"})
        print_json_lines([{"output": routed.output, "run_id": routed.run_id, "record": record}])
        return
    out.print(
        Text(
            routed.output if isinstance(routed.output, str) else json.dumps(routed.output), style="bold cyan"
        )
    )
    render_result(routed.result)
    out.print(
        f"queued for shadowing by {', '.join(routed.queued_for) or 'no candidate'} (run {routed.run_id})"
    )


def _override(action: Literal["promote", "demote"], model: str, task_type: str) -> None:
    from tenure.control.promotions import override
    from tenure.tasks.announce import announce

    rt = load()
    user = getpass.getuser()
    try:
        event = override(rt.log, action, model, task_type, user, rt.config)
    except (TaskError, ValueError) as exc:
        fail(str(exc))
    announce([event])
    out.print(f"{action}d {model} for {task_type} (recorded as an event by user:{user})")


def promote(
    model: Annotated[str, typer.Argument(help="The model id, e.g. ollama:qwen2.5:latest.")],
    task_type: Annotated[str, typer.Argument(metavar="TYPE", help="The task type it should answer.")],
) -> None:
    """Promote MODEL for TYPE by hand (recorded as an event with you as the reason)."""
    _override("promote", model, task_type)


def demote(
    model: Annotated[str, typer.Argument(help="The promoted model id.")],
    task_type: Annotated[str, typer.Argument(metavar="TYPE", help="The task type.")],
) -> None:
    """Demote MODEL for TYPE by hand: the ground truth answers the type again."""
    _override("demote", model, task_type)


def promotions(
    check: Annotated[
        bool, typer.Option("--check", help="Run the promotion check now and record what it decides.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per event.")] = False,
) -> None:
    """Every promote / demote / reject event, oldest first, with who decided and on what evidence.

    With --check, runs the hourly promotion_check flow now instead: applies the gates to the evidence,
    records and announces the events due and prints them (tenure scores says why not)."""
    rt = load()
    if check:
        from tenure.flows.promotions import promotion_check

        due = promotion_check()
        if json_out:
            print_json_lines(due)
            return
        for e in due:
            out.print(
                f"[bold]{e['action']}[/bold] {e['model']} for {e['task_type']}: {e['reason']}",
                highlight=False,
            )
        out.print(
            f"{len(due)} event(s) recorded" if due else "nothing due now: the evidence calls for no event"
        )
        return
    events = rt.log.events()
    if json_out:
        print_json_lines([e.model_dump() for e in events])
    elif not events:
        out.print("no promotion events yet")
    else:
        rows = [(f"{e.ts:%Y-%m-%d %H:%M}", e.task_type, e.model, e.action, e.actor, e.reason) for e in events]
        render_table(["when", "type", "model", "action", "by", "why"], rows, title="promotions")


def backtest(
    model: Annotated[str, typer.Option("--model", "-m", help="The candidate, e.g. ollama:llama3.2:3b.")],
    task_type: Annotated[str, typer.Option("--type", "-t", help="The task type to backtest.")],
    limit: Annotated[int, typer.Option(min=1, help="At most N archived tasks, newest first.")] = 200,
) -> None:
    """Assess a new candidate against the archived ground truth (no new ground-truth calls)."""
    from tenure.flows.shadow_eval import backtest as backtest_flow

    _check_candidates(load(), [model])
    try:
        with out.status(f"backtesting {model} on archived {task_type} tasks…"):
            result = asyncio.run(backtest_flow(model, task_type, limit=limit))
    except (TaskError, ValueError) as exc:
        fail(str(exc))
    if not result["archived"]:
        out.print(
            f"no archived {task_type} ground truth yet: route some tasks first ('tenure route {task_type}')"
        )
        return
    out.print(f"{model} on {result['archived']} archived {task_type} tasks:")
    for r in result["readings"]:
        if r["use"] == "evidence":
            bound = "-" if r["bound"] is None else f"{r['bound']:.3f}"
            verdict = f"bound {bound}, gate says [bold]{r['decision']}[/bold]"
        else:
            verdict = f"not evidence: {r['note']}"
        out.print(f"  {r['n']} scored by {r['judge']} ({r['judge_kind']}), mean {r['mean']:.3f}, {verdict}")
    if not any(r["use"] == "evidence" for r in result["readings"]):
        out.print("  no evidence the gate reads: it needs the type's primary judge")


def scores(
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per row.")] = False,
) -> None:
    """The scoreboard: each model × task type × judge with n, mean and what the gate says.

    Rows marked evidence are what the promotion gate reads (its bound and status are the verdict
    promotion_check acts on); canary rows feed the drift test; the rest are shown only, with why."""
    show_scores(load(), as_json=json_out)


def sql(
    query: Annotated[
        str,
        typer.Argument(
            help="One SELECT over the views runs, scores, events, confidence, judge_calibrations, "
            "human_labels, triage, tool_calls."
        ),
    ],
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per row.")] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Stop a query running longer (seconds).")
    ] = 60.0,
) -> None:
    """Run read-only SQL against the score log's DuckDB views. The connection reads nothing but the
    store: no other file, no URL, no extension install."""
    rt = load()
    try:
        columns, rows = rt.log.query(query, timeout_s=timeout)
    except ValueError as exc:
        fail(str(exc))
    if json_out:
        print_json_lines([dict(zip(columns, row, strict=True)) for row in rows])
    else:
        render_table(columns, rows)
