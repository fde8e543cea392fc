"""Shadowing: a candidate answers a task the ground truth already answered, judges score it, and the
runs and scores are recorded as typed rows.

Plain functions (no Prefect): ``flows/shadow_eval.py`` gives them retries, batching and names in the UI.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tenure.config import TenureConfig
from tenure.control.answer import Answer, answer
from tenure.control.eligibility import ground_truth_exclusion, judge_exclusion
from tenure.control.judges import JudgeFailure, Verdict, judge
from tenure.control.task import Task
from tenure.store import RunRow, ScoreRow

__all__ = [
    "Summary",
    "answer_run",
    "archived_task",
    "exclusion",
    "reference_runs",
    "score_row",
    "shadow",
    "with_reference",
]


def answer_run(
    task: Task, role: str, source: str, model: str, got: Answer, gt_run_id: str | None = None
) -> RunRow:
    """The ``runs`` row of one answer: the task input, the output, and the model layer's full record."""
    result = got.result
    return RunRow(
        task_id=task.id,
        task_type=task.type,
        role=role,
        source=source,
        model=result.requested if result else model,
        served_by=result.served_by if result else None,
        gt_run_id=gt_run_id,
        input=task.input,
        output=got.output,
        reference=task.reference,
        record=result.model_dump(mode="json", exclude={"output"}) if result else None,
        trace_id=result.trace_id if result else None,
        cost_usd=result.cost_usd if result else None,
        latency_ms=result.latency_ms if result else None,
        input_tokens=result.input_tokens if result else None,
        output_tokens=result.output_tokens if result else None,
        error=got.error,
    )


def reference_runs(tasks: Sequence[Task], source: str) -> list[RunRow]:
    """Ground-truth rows for tasks that arrive with their reference (golden set, replay): the reference
    is archived as the ground truth's answer, with no model call."""
    return [
        RunRow(
            task_id=t.id,
            task_type=t.type,
            role="ground_truth",
            source=source,
            model=f"reference:{source}",
            served_by=f"reference:{source}",
            input=t.input,
            output=t.reference,
            reference=t.reference,
        )
        for t in tasks
    ]


def archived_task(run: RunRow, *, as_reference: bool = True) -> Task:
    """The task an archived run answered; with ``as_reference``, that run's output is its reference (a
    ground-truth run, with who served it), else it has none (a canary run, whose ground truth is asked
    afterwards)."""
    if not as_reference:
        return Task(id=run.task_id, type=run.task_type, input=run.input)
    return Task(
        id=run.task_id, type=run.task_type, input=run.input, reference=run.output, reference_by=run.served_by
    )


def with_reference(task: Task, ground_truth: RunRow) -> Task:
    """``task`` with the answer of a ground-truth run just asked as its reference."""
    return task.model_copy(update={"reference": ground_truth.output, "reference_by": ground_truth.served_by})


def exclusion(
    config: TenureConfig, task: Task, candidate: str, verdict: Verdict | JudgeFailure
) -> str | None:
    """Why this verdict on ``candidate``'s answer to ``task`` is no evidence, or None when it may be."""
    reason = ground_truth_exclusion(config, task.type, task.reference_by, candidate)
    if reason is None and isinstance(verdict, Verdict) and verdict.kind == "llm":
        reason = judge_exclusion(config, verdict.judge.removeprefix("llm:"), candidate)
    return reason


def score_row(
    config: TenureConfig,
    task: Task,
    run: RunRow,
    candidate: str,
    source: str,
    verdict: Verdict | JudgeFailure,
) -> ScoreRow:
    """One ``scores`` row, with who answered the reference and why it is no evidence, if so; a judge that
    failed is recorded as such, never as a score."""
    failed = isinstance(verdict, JudgeFailure)
    return ScoreRow(
        run_id=run.run_id,
        gt_run_id=run.gt_run_id,
        task_id=task.id,
        task_type=task.type,
        candidate=candidate,
        judge="llm" if failed else verdict.judge,
        judge_kind="llm" if failed else verdict.kind,
        score=None if failed else verdict.score,
        passed=None if failed else verdict.passed,
        reason=str(verdict) if failed else verdict.reason,
        status="judge_failed" if failed else "ok",
        source=source,
        cost_usd=0.0 if failed else verdict.cost_usd,
        ground_truth=task.reference_by,
        prompt_version=None if failed else verdict.prompt_version,
        excluded=exclusion(config, task, candidate, verdict),
    )


@dataclass(frozen=True)
class Summary:
    """How many of a candidate's answers were scored in a batch, and their mean."""

    scored: int = 0
    mean: float = 0.0

    @classmethod
    def of(cls, scores: Iterable[ScoreRow]) -> Summary:
        judged = [s.score for s in scores if s.status == "ok" and s.score is not None]
        return cls(len(judged), sum(judged) / len(judged) if judged else 0.0)

    def __add__(self, other: Summary) -> Summary:
        n = self.scored + other.scored
        return Summary(n, (self.mean * self.scored + other.mean * other.scored) / n if n else 0.0)

    def as_dict(self) -> dict[str, float]:
        return {"scored": self.scored, "mean": self.mean}


async def shadow(
    task: Task,
    gt_run_id: str | None,
    candidate: str,
    config: TenureConfig,
    home: Path,
    *,
    source: str,
    use_llm: bool,
) -> tuple[RunRow, list[ScoreRow]]:
    """Answer ``task`` with ``candidate`` and judge it against ``task.reference`` (the ground truth).

    A candidate that could not answer (its model down) gets a run row with the error and no score:
    an outage says nothing about quality.
    """
    got = await answer(task, candidate, config, home)
    run = answer_run(task, "candidate", source, candidate, got, gt_run_id=gt_run_id)
    if got.error is not None:
        return run, []
    verdicts = await judge(task, got.output, config, home, use_llm=use_llm)
    return run, [score_row(config, task, run, candidate, source, v) for v in verdicts]
