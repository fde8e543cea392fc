"""classify: one label from the allowed ones; judged by exact label match."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from tenure.control.task_types.base import TaskInput, TaskType, block
from tenure.control.verdict import Verdict

__all__ = ["TASK_TYPE", "ClassifyInput", "ClassifyOutput", "label_match"]


class ClassifyInput(TaskInput):
    text: str = Field(min_length=1)
    labels: list[str] = Field(min_length=2)


class ClassifyOutput(BaseModel):
    label: str
    """Exactly one of the allowed labels."""


def _norm(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value)).strip().strip(".").lower()


def label_match(output: Any, reference: Any, data: ClassifyInput | None = None) -> Verdict:
    ok = _norm(output) == _norm(reference)
    reason = "label matches" if ok else f"said '{output}', expected '{reference}'"
    return Verdict("label_match", "deterministic", float(ok), ok, reason)


def closest_label(text: str, data: ClassifyInput) -> str:
    """The label the answer names first; the raw first word when it names none (judged as wrong)."""
    lowered = text.strip().lower()
    found = [(lowered.find(label.lower()), label) for label in data.labels if label.lower() in lowered]
    return min(found)[1] if found else (lowered.split() or [""])[0]


TASK_TYPE = TaskType[ClassifyInput](
    name="classify",
    input_model=ClassifyInput,
    instructions="Classify the text. Answer with exactly one of the allowed labels and nothing else.",
    render=lambda d: f"Labels: {', '.join(d.labels)}\n{block('text', d.text)}",
    examples=(
        (
            {
                "text": "Your March invoice #2231 is attached, due in 14 days.",
                "labels": ["billing", "social", "spam"],
            },
            "billing",
        ),
        (
            {"text": "You WON a free cruise!!! Click to claim now", "labels": ["billing", "social", "spam"]},
            "spam",
        ),
    ),
    rubric="Is the candidate's label the same as the reference label?",
    output_model=ClassifyOutput,
    from_structured=lambda out, d: out.label,
    parse=closest_label,
    judge=label_match,
    similar=("labels",),
    stop=("\n",),
    max_tokens=8,
)
