"""The daily judge budget: when a type's LLM judging has cost its ``judge_budget_usd`` today (UTC),
shadowing that type pauses until the next day; canary checks go on."""

from __future__ import annotations

from tenure.config import TenureConfig
from tenure.store import ScoreLog

__all__ = ["paused_types"]


def paused_types(log: ScoreLog, config: TenureConfig, task_types: list[str]) -> dict[str, str]:
    """Of ``task_types``, those whose judge budget is spent today, each with the reason in words."""
    spent = log.judge_spend_today()
    paused = {}
    for task_type in task_types:
        budget = config.task_type(task_type).judge_budget_usd
        today = spent.get(task_type, 0.0)
        if budget is not None and today >= budget:
            paused[task_type] = f"judge budget for {task_type} reached: ${today:.2f} of ${budget:.2f} today"
    return paused
