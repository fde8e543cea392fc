"""The golden task set (``data/golden/<type>.jsonl``): realistic tasks with reference answers."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from tenure.control.tasks import TASK_TYPES, Task, TaskError, get_type, parse_task

__all__ = ["GOLDEN_DIR", "load_golden", "shots_for"]

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "data" / "golden"


def load_golden(
    types: list[str] | None = None, limit: int | None = None, root: Path = GOLDEN_DIR
) -> list[Task]:
    """Tasks of the given types (all by default), at most ``limit`` per type, in file order."""
    tasks: list[Task] = []
    for name in types or list(TASK_TYPES):
        get_type(name)
        path = root / f"{name}.jsonl"
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for number, line in enumerate(lines[:limit] if limit else lines, start=1):
            try:
                task = parse_task(line, task_type=name)
            except TaskError as exc:
                raise TaskError(f"{path}:{number}: {exc}") from None
            if task.type != name or task.reference is None:
                raise TaskError(f"{path}:{number}: expected a '{name}' task with a reference")
            tasks.append(task)
    return tasks


SHOT_BUDGET_CHARS = 2400
"""Room for solved examples in a base model's prompt (the embedded model has a 2,048-token context)."""


def shots_for(task: Task, k: int = 2) -> list[tuple[dict[str, Any], Any]]:
    """Up to ``k`` solved golden tasks to show a base model before ``task``: same type, never the task
    itself, the closest in kind first (same label set, same target format), short ones preferred."""
    try:
        pool = [g for g in _golden_of(task.type) if g.id != task.id]
    except (OSError, TaskError):
        return []

    def likeness(g: Task) -> tuple[int, int]:
        same = {k: v for k, v in g.input.items() if k in ("labels", "target", "fields")} == {
            k: v for k, v in task.input.items() if k in ("labels", "target", "fields")
        }
        return (0 if same else 1, len(json.dumps(g.input)) + len(json.dumps(g.reference)))

    chosen, used = [], 0
    for g in sorted(pool, key=likeness):
        size = len(json.dumps(g.input)) + len(json.dumps(g.reference))
        if len(chosen) == k or used + size > SHOT_BUDGET_CHARS:
            break
        chosen.append((g.input, g.reference))
        used += size
    return chosen


@cache
def _golden_of(task_type: str) -> tuple[Task, ...]:
    return tuple(load_golden([task_type]))
