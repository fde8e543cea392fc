"""``tenure judge calibrate | agreement`` and ``tenure review``: how far the judges can be trusted."""

from __future__ import annotations

import asyncio
import getpass
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tenure.cli.common import fail, load, out
from tenure.cli.render import print_json_lines
from tenure.control.task import TaskError

if TYPE_CHECKING:
    from tenure.store import CalibrationRow

__all__ = ["judge_app", "review"]

judge_app = typer.Typer(help="How far the judges can be trusted: calibrate them, compare them with you.")


def _interval(value: float | None, low: float | None, high: float | None, percent: bool = True) -> str:
    if value is None:
        return "-"

    def shown(x: float) -> str:
        return f"{x:.0%}" if percent else f"{x:.2f}"

    return shown(value) + ("" if low is None or high is None else f" [{shown(low)}–{shown(high)}]")


def render_calibrations(title: str, rows: list[CalibrationRow], floor: float) -> None:
    """Calibrations (or judge–human agreements) as a table: one row per judge × type."""
    table = Table(
        "judge", "type", "n", "agreement", "κ", "false pass", "false fail", "evidence?", title=title
    )
    for r in rows:
        low, high = (r.details or {}).get("agreement_ci") or (None, None)
        if r.judge.startswith("heuristic"):
            usable = "[dim]never: the heuristic judge[/dim]"
        elif r.injected_passes:
            usable = f"[red]no: passed {r.injected_passes} answer(s) that address the grader[/red]"
        elif r.kappa is None or r.kappa < floor:
            usable = f"[yellow]no: κ below {floor}[/yellow]"
        else:
            usable = "[green]yes[/green]"
        table.add_row(
            r.judge + (f" (prompt {r.prompt_version})" if r.prompt_version else ""),
            r.task_type,
            str(r.n) + (f" (+{r.failed} no verdict)" if r.failed else ""),
            _interval(r.agreement, low, high),
            _interval(r.kappa, r.kappa_low, r.kappa_high, percent=False),
            _interval(r.false_pass, r.false_pass_low, r.false_pass_high),
            _interval(r.false_fail, r.false_fail_low, r.false_fail_high),
            usable,
        )
    table.caption = Text(
        "false pass: the judge passes what the label fails (what lets a bad model through); [a–b]: 95%"
    )
    out.print(table)


@judge_app.command("calibrate")
def calibrate(
    judge: Annotated[
        str | None,
        typer.Option(help="heuristic (offline), a model id, or a chain name (default: judge.chain)."),
    ] = None,
    types: Annotated[
        str | None, typer.Option(help="Comma-separated task types (default: all labelled).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per judge × type.")] = False,
) -> None:
    """Grade the labelled judge set with a judge and record how often it agrees with the labels.

    Reports agreement, Cohen's κ, the false-pass rate (what matters for promotion) and the false-fail
    rate per type, with 95% intervals, adding the labels people gave that judge in [bold]tenure
    review[/bold]. An LLM judge is evidence for a type only once calibrated there with κ at least
    judge.kappa_floor."""
    from tenure.control.calibration import calibration_rows, grade, load_judge_set

    rt = load()
    target = judge or rt.config.judge.chain
    try:
        pairs = load_judge_set(types.split(",") if types else None)
    except TaskError as exc:
        fail(str(exc))
    with out.status(f"grading {len(pairs)} labelled pairs with {target}…"):
        graded = asyncio.run(grade(pairs, target, rt.config, rt.home))
    rows = calibration_rows(graded, rt.log.human_labels())
    if not rows:
        fail(f"{target} gave no verdict on any of the {len(pairs)} pairs; is it reachable?", 1)
    rt.log.append("judge_calibrations", rows)
    if json_out:
        print_json_lines([r.model_dump() for r in rows])
        return
    render_calibrations(f"calibration of {target}", rows, rt.config.judge.kappa_floor)
    out.print(f"recorded in the score log (judge_calibrations): {len(rows)} row(s)")


@judge_app.command("agreement")
def human_agreement(
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per judge × type.")] = False,
) -> None:
    """How often each judge agreed with the verdicts people gave in [bold]tenure review[/bold]."""
    from tenure.control.calibration import human_agreement as measure

    rt = load()
    rows = measure(rt.log.human_labels())
    if json_out:
        print_json_lines([r.model_dump() for r in rows])
    elif not rows:
        out.print("no human labels yet: run tenure review")
    else:
        render_calibrations("judge–human agreement", rows, rt.config.judge.kappa_floor)


def _show(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2)


def review(
    task_type: Annotated[
        str | None, typer.Option("--type", "-t", help="Only pairs of this task type.")
    ] = None,
    n: Annotated[int, typer.Option("--n", "-n", min=1, help="How many pairs to show at most.")] = 10,
) -> None:
    """Judge judged pairs yourself: pass or fail each, and see how often the judge agrees with you.

    Shows task, reference, candidate and the judge's verdict, one pair at a time; [p]ass means you
    would send the candidate instead of the reference. Every answer is saved at once (human_labels);
    [bold]tenure judge agreement[/bold] compares them with the judges, and the next calibration of a
    judge adds them to its labelled pairs."""
    from tenure.store import HumanLabelRow

    rt = load()
    if task_type is not None:
        from tenure.control import task_types

        try:
            task_types.get(task_type)
        except TaskError as exc:
            fail(str(exc))
    pairs = rt.log.unreviewed(n, task_type)
    if not pairs:
        out.print("nothing left to review" + (f" for {task_type}" if task_type else ""))
        return
    reviewer, saved = getpass.getuser(), 0
    for number, pair in enumerate(pairs, 1):
        s = pair.score
        out.rule(f"{number}/{len(pairs)} · {s.task_type} · {s.candidate}")
        out.print(Panel(Text(_show(pair.input)), title="task", title_align="left"))
        out.print(Panel(Text(_show(pair.reference)), title="reference", title_align="left"))
        out.print(Panel(Text(_show(pair.output)), title="candidate", title_align="left"))
        verdict = "pass" if s.passed else "fail"
        out.print(f"[dim]{s.judge} said[/dim] {verdict} ({s.score:.2f}): {s.reason or ''}", highlight=False)
        answer = typer.prompt(
            "Would you send the candidate instead? [p]ass / [f]ail / [s]kip / [q]uit", default="s"
        )
        choice = answer.strip().lower()[:1]
        if choice == "q":
            break
        if choice not in ("p", "f"):
            continue
        label = "pass" if choice == "p" else "fail"
        rt.log.append(
            "human_labels",
            [
                HumanLabelRow(
                    score_id=s.score_id,
                    task_type=s.task_type,
                    candidate=s.candidate,
                    judge=s.judge,
                    prompt_version=s.prompt_version,
                    judge_passed=s.passed,
                    label=label,
                    reviewer=reviewer,
                )
            ],
        )
        saved += 1
    out.print(f"{saved} label(s) saved; tenure judge agreement shows how the judges compare")
