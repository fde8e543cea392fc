"""``route_task``: answer a commodity task now; leave the shadowing for later.

The caller's path is one ground-truth call plus one small append to the score log (which archives the
answer with its input and queues it: a live ground-truth run no candidate has shadowed yet is what
``shadow_eval`` picks up, in its own flow run, on its schedule or when drained by ``tenure eval
--pending``). A type with a promoted model is answered by it, and a sampled share of those answers
(the canaries) is checked against the ground truth later, by ``canary_eval``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenure.config import TenureConfig
from tenure.control.answer import answer
from tenure.control.promotions import current_state
from tenure.control.shadow import answer_run
from tenure.control.task import Task
from tenure.models import CallResult
from tenure.store import ScoreLog

__all__ = ["Routed", "RoutingFailed", "route_task"]


class RoutingFailed(RuntimeError):
    """The ground truth could not answer (every model of its chain failed); nothing was queued."""


@dataclass(frozen=True)
class Routed:
    output: Any
    served_by: str | None
    run_id: str
    result: CallResult
    queued_for: list[str]
    """Candidates that will shadow this task."""


async def route_task(
    task: Task,
    config: TenureConfig,
    home: Path,
    log: ScoreLog | None = None,
    *,
    rng: random.Random | None = None,
) -> Routed:
    """Answer ``task`` and archive the answer; shadowing happens later, off the caller's path.

    With a promoted model for the type it answers, and a ``canary_rate`` share of its answers is queued
    to be checked against the ground truth (if it fails, the ground truth answers instead). Otherwise the
    type's ground-truth chain answers and the configured candidates are queued to shadow it.
    """
    settings = config.task_type(task.type)
    log = log or ScoreLog.for_home(home)
    state = current_state(log, config)
    promoted = state.promoted.get(task.type)
    if promoted:
        got = await answer(task, promoted, config, home)
        if got.error is None and got.result is not None:
            canary = (rng or random).random() < settings.canary_rate
            row = answer_run(task, "canary" if canary else "promoted", "live", promoted, got)
            log.append("runs", [row])
            queued = [f"ground truth ({settings.ground_truth}) as canary"] if canary else []
            return Routed(got.output, got.result.served_by, row.run_id, got.result, queued)
    got = await answer(task, settings.ground_truth, config, home)
    if got.error is not None or got.result is None:
        raise RoutingFailed(got.error or "no answer")
    row = answer_run(task, "ground_truth", "live", settings.ground_truth, got)
    log.append("runs", [row])
    queued = state.candidates(config, task.type)
    return Routed(got.output, got.result.served_by, row.run_id, got.result, queued)
