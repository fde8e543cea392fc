"""The golden task set (``data/golden/<type>.jsonl``): realistic tasks with reference answers."""

from __future__ import annotations

from pathlib import Path

from tenure.control.tasks import TASK_TYPES, Task, TaskError, get_type, parse_task

__all__ = ["GOLDEN_DIR", "load_golden"]

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
