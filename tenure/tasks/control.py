"""Prefect tasks of the control plane: shadow a batch with one candidate, judge it, log it.

One task run per (candidate, batch), not per task: a backlog of thousands of tasks costs a handful of
task runs, and each still retries as a unit when a provider hiccups.
"""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from tenure.config import Env, load_config
from tenure.control.shadow import answer, judge, run_row, score_row
from tenure.control.tasks import Task
from tenure.store import ScoreLog

__all__ = ["answer_batch", "append_rows", "judge_batch", "score_log"]

CONCURRENCY = 4
"""Shadow calls in flight at once per batch (the embedded model serialises its own)."""


def score_log() -> ScoreLog:
    return ScoreLog(Env().home.expanduser() / "store")


@task(
    name="answer_batch",
    task_run_name="answer/{candidate}",
    retries=2,
    retry_delay_seconds=[10, 60],
    cache_policy=NO_CACHE,
)
async def answer_batch(
    tasks: list[Task], gt_run_ids: list[str | None], candidate: str, source: str, role: str = "candidate"
) -> tuple[list[dict[str, Any]], list[Any]]:
    """``candidate``'s answer (a model id, or a chain for the ground truth) to every task: run rows
    (with the model layer's record) and outputs."""
    env, config = Env(), load_config()
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(item: Task) -> Any:
        async with limit:
            return await answer(item, candidate, config, env.home.expanduser())

    answers = await asyncio.gather(*(one(t) for t in tasks))
    runs = [
        run_row(t, role, source, candidate, a, gt_run_id=g)
        for t, a, g in zip(tasks, answers, gt_run_ids, strict=True)
    ]
    return runs, [a.output if a.error is None else None for a in answers]


@task(
    name="judge_batch",
    task_run_name="judge/{candidate}",
    retries=1,
    retry_delay_seconds=30,
    cache_policy=NO_CACHE,
)
async def judge_batch(
    tasks: list[Task],
    runs: list[dict[str, Any]],
    outputs: list[Any],
    candidate: str,
    source: str,
    use_llm: bool,
) -> list[dict[str, Any]]:
    """Score rows for every answered task; unanswered ones (model down) get none."""
    env, config = Env(), load_config()
    rows: list[dict[str, Any]] = []
    for item, run, output in zip(tasks, runs, outputs, strict=True):
        if run["error"] is not None:
            continue
        verdicts = await judge(item, output, config, env.home.expanduser(), use_llm=use_llm)
        rows += [score_row(item, run, candidate, source, v) for v in verdicts]
    return rows


@task(
    name="append_rows",
    task_run_name="append/{table}",
    retries=2,
    retry_delay_seconds=5,
    cache_policy=NO_CACHE,
)
def append_rows(table: str, rows: list[dict[str, Any]]) -> int:
    """One atomic segment for the batch."""
    score_log().append(table, rows)  # type: ignore[arg-type]
    return len(rows)
