"""Prefect tasks of the control plane: answer a batch with one candidate, judge it, log it.

One task run per (candidate, batch), not per task: a backlog of thousands of tasks costs a handful of
task runs, and each still retries as a unit when a provider hiccups. Config and secrets are loaded
inside each task (never passed as parameters).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from prefect import task
from prefect.cache_policies import NO_CACHE

from tenure.control.answer import answer
from tenure.control.judges import judge
from tenure.control.shadow import answer_run, score_row
from tenure.control.task import Task
from tenure.models import tracing
from tenure.runtime import runtime
from tenure.store import Row, RunRow, ScoreRow
from tenure.store.rows import Table

__all__ = ["CONCURRENCY", "answer_batch", "append_rows", "judge_batch"]

CONCURRENCY = 4
"""Shadow calls in flight at once per batch (the embedded model serialises its own)."""


@task(
    name="answer_batch",
    task_run_name="answer/{candidate}",
    retries=2,
    retry_delay_seconds=[10, 60],
    cache_policy=NO_CACHE,
)
async def answer_batch(
    tasks: list[Task], gt_run_ids: Sequence[str | None], candidate: str, source: str, role: str = "candidate"
) -> list[RunRow]:
    """``candidate``'s answer (a model id, or a chain for the ground truth) to every task, as run rows
    (with the model layer's record; an unanswered task has its error and no output)."""
    rt = runtime()
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(item: Task, gt_run_id: str | None) -> RunRow:
        async with limit:
            got = await answer(item, candidate, rt.config, rt.home)
        return answer_run(item, role, source, candidate, got, gt_run_id=gt_run_id)

    return list(await asyncio.gather(*(one(t, g) for t, g in zip(tasks, gt_run_ids, strict=True))))


@task(
    name="judge_batch",
    task_run_name="judge/{candidate}",
    retries=1,
    retry_delay_seconds=30,
    cache_policy=NO_CACHE,
)
async def judge_batch(
    tasks: list[Task], runs: list[RunRow], candidate: str, source: str, use_llm: bool
) -> list[ScoreRow]:
    """Score rows for every answered run; unanswered ones (model down) get none."""
    rt = runtime()
    rows: list[ScoreRow] = []
    for item, run in zip(tasks, runs, strict=True):
        if run.error is not None:
            continue
        verdicts = await judge(item, run.output, rt.config, rt.home, use_llm=use_llm)
        scored = [score_row(rt.config, item, run, candidate, source, v) for v in verdicts]
        _trace_scores(run, scored)
        rows += scored
    return rows


def _trace_scores(run: RunRow, rows: list[ScoreRow]) -> None:
    """Each verdict as a Langfuse score on the candidate's generation (a no-op unless tracing is on)."""
    generation = run.record.get("span_id") if isinstance(run.record, dict) else None
    for row in rows:
        if row.score is not None:
            metadata = {"kind": row.judge_kind, "passed": row.passed, "task_type": row.task_type}
            tracing.score(
                run.trace_id, generation, row.judge, row.score, comment=row.reason, metadata=metadata
            )


@task(
    name="append_rows",
    task_run_name="append/{table}",
    retries=2,
    retry_delay_seconds=5,
    cache_policy=NO_CACHE,
)
def append_rows(table: Table, rows: Sequence[Row]) -> int:
    """One atomic segment for the batch."""
    runtime().log.append(table, rows)
    return len(rows)
