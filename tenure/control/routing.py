"""``route_task``: answer a commodity task now; leave the shadowing for later.

The caller's path is one ground-truth call plus one small append to the score log (which archives the
answer with its input and queues it: a live ground-truth run no candidate has shadowed yet is what
``shadow_eval`` picks up, in its own flow run, on its schedule or when drained by ``tenure eval
--pending``). Promotion (answering from a local model that earned it, with a canary sample) arrives
with the gates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tenure.control.shadow import answer, run_row
from tenure.control.tasks import Task
from tenure.store import ScoreLog

if TYPE_CHECKING:
    from pathlib import Path

    from tenure.config import TenureConfig
    from tenure.models import CallResult

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


async def route_task(task: Task, config: TenureConfig, home: Path, log: ScoreLog | None = None) -> Routed:
    """Answer ``task`` from its type's ground-truth chain, archive it, and queue it for the candidates."""
    settings = config.task_types[task.type]  # type: ignore[index]
    got = await answer(task, settings.ground_truth, config, home)
    if got.error is not None or got.result is None:
        raise RoutingFailed(got.error or "no answer")
    row = run_row(task, "ground_truth", "live", settings.ground_truth, got)
    (log or ScoreLog(home / "store")).append("runs", [row])
    return Routed(got.output, got.result.served_by, row["run_id"], got.result, list(settings.candidates))
