"""The golden task set (``tenure/data/golden/<type>.jsonl``): realistic tasks with reference answers."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from tenure.config import TenureConfig
from tenure.control import task_types
from tenure.control.eligibility import ground_truth_models
from tenure.control.task import Task, TaskError, parse_task
from tenure.models import ChainUnavailable, build_chain
from tenure.resources import data_path

__all__ = ["GOLDEN_DIR", "ground_truth_source", "load_golden", "shots_for"]

GOLDEN_DIR = data_path("golden")


def load_golden(
    types: list[str] | None = None, limit: int | None = None, root: Path = GOLDEN_DIR
) -> list[Task]:
    """Tasks of the given types (every type with a golden file by default), at most ``limit`` per type,
    in file order."""
    tasks: list[Task] = []
    for name in types or [t for t in task_types.names() if (root / f"{t}.jsonl").exists()]:
        task_types.get(name)
        path = root / f"{name}.jsonl"
        if not path.exists():
            raise TaskError(f"no golden tasks for '{name}': {path} does not exist")
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
    itself, the closest in kind first (the type's ``similar`` fields equal), short ones preferred."""
    try:
        pool = [g for g in _golden_of(task.type) if g.id != task.id]
    except (OSError, TaskError):
        return []
    similar = task.kind.similar

    def likeness(g: Task) -> tuple[int, int]:
        same = all(g.input.get(key) == task.input.get(key) for key in similar)
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


def ground_truth_source(config: TenureConfig, home: Path, task_type: str, *, replay: bool = False) -> str:
    """Where a golden run of ``task_type`` takes its ground truth: ``"chain"`` (its ground-truth chain,
    asked live) when the chain has a usable model eligible as ground truth (by default a cloud model with
    a key) and ``replay`` is off, else ``"reference"`` (the golden references, replayed: no calls). A
    local model never answers as ground truth for a golden run."""
    if replay:
        return "reference"
    try:
        chain = build_chain(config.task_type(task_type).ground_truth, config, home)
    except ChainUnavailable:
        return "reference"
    eligible = set(ground_truth_models(config, task_type))
    return "chain" if any(link.tenure_id in eligible for link in chain.links) else "reference"
