"""One task to route or evaluate, and the validation every task input goes through.

Bad input (an unknown type, a missing field, more than 200,000 characters of text, invalid UTF-8 or
JSON) is refused with the field and the problem named.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from tenure.control import task_types
from tenure.control.task_types import TaskError, TaskInput, TaskType

__all__ = ["MAX_INPUT_CHARS", "Task", "TaskError", "parse_task"]

MAX_INPUT_CHARS = 200_000
"""A task's text fields together; a commodity task is an email or a note, not a book."""


class Task(BaseModel):
    """One task to route or evaluate. ``reference`` is the known-good answer (golden set, archive)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    type: str
    input: dict[str, Any]
    reference: Any = None
    reference_by: str | None = None
    """Who answered the reference: a model id, ``reference:SOURCE`` for an archived reference, or None
    for one a person wrote (the golden set). Decides whether the reference is ground truth enough to be
    evidence (``tenure.control.eligibility``)."""

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        task_types.get(value)
        return value

    @property
    def kind(self) -> TaskType[Any]:
        return task_types.get(self.type)

    def data(self) -> TaskInput:
        """The validated input model for this task's type."""
        return self.kind.input_model(**self.input)


def parse_task(raw: dict[str, Any] | str | bytes, *, task_type: str | None = None) -> Task:
    """Validate a task from JSON (or a dict); errors name the field and the expected form.

    With ``task_type`` (checked first) the JSON may be the bare input (``{"text": …, "labels": […]}``).
    A task without an id is named by its type and content: the same input routed twice is one task, so
    its shadow scores count once as evidence (``tenure.store.evidence``)."""
    if task_type is not None:
        task_types.get(task_type)
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TaskError(f"task input is not valid UTF-8 (byte {exc.start}); save it as UTF-8") from None
    if isinstance(raw, str):
        if len(raw) > MAX_INPUT_CHARS * 2:
            raise TaskError(f"task input is {len(raw):,} characters; the limit is {MAX_INPUT_CHARS:,}")
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise TaskError(f"task input is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise TaskError("task input must be a JSON object")
    if task_type is not None:
        raw = {"id": raw.get("id", ""), "type": task_type, "input": raw.get("input", raw)} | (
            {"reference": raw["reference"]} if "reference" in raw else {}
        )
    try:
        task = Task.model_validate(raw)
        data = task.data()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise TaskError(f"task field '{where}': {message}") from None
    size = sum(len(v) for v in _strings(data.model_dump()))
    if size > MAX_INPUT_CHARS:
        raise TaskError(f"task '{task.id}' has {size:,} characters of text; the limit is {MAX_INPUT_CHARS:,}")
    if not task.id:
        content = json.dumps(task.input, sort_keys=True, ensure_ascii=False).encode()
        task = task.model_copy(update={"id": f"{task.type}:{hashlib.sha256(content).hexdigest()[:16]}"})
    return task


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []
