"""extract: named fields from a text as one JSON object; judged by field-level F1."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tenure.control.task_types.base import TaskInput, TaskType, block
from tenure.control.verdict import Verdict

__all__ = ["TASK_TYPE", "ExtractInput", "ExtractOutput", "field_f1"]


class ExtractInput(TaskInput):
    text: str = Field(min_length=1)
    fields: list[str] = Field(min_length=1)


class ExtractOutput(BaseModel):
    """One key per requested field; ``null`` when the text does not say."""

    model_config = ConfigDict(extra="allow")


def _norm(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value)).strip().strip(".").lower()


def field_f1(output: Any, reference: dict[str, Any], data: ExtractInput | None = None) -> Verdict:
    """F1 over the fields the reference fills; a field the text lacks must come back null."""
    got = output if isinstance(output, dict) else {}
    filled = {k for k, v in reference.items() if v is not None}
    predicted = {k for k in reference if got.get(k) is not None}
    correct = {k for k in filled & predicted if _norm(got[k]) == _norm(reference[k])}
    denominator = len(filled) + len(predicted)
    score = 1.0 if denominator == 0 else 2 * len(correct) / denominator
    wrong = sorted((filled | predicted) - correct)
    reason = "all fields right" if not wrong else f"wrong or missing: {', '.join(wrong)}"
    return Verdict("field_f1", "deterministic", round(score, 4), score >= 0.999, reason)


def first_json_object(text: str, data: ExtractInput) -> dict[str, Any]:
    """The first JSON object in the answer, restricted to the requested fields (missing → null)."""
    match = re.search(r"\{.*?\}", text, re.S)
    try:
        found = json.loads(match.group(0)) if match else {}
    except json.JSONDecodeError:
        found = {}
    return {f: (found.get(f) if isinstance(found, dict) else None) for f in data.fields}


TASK_TYPE = TaskType[ExtractInput](
    name="extract",
    input_model=ExtractInput,
    instructions=(
        "Extract the requested fields from the text. Answer with one JSON object with exactly those keys; "
        "use null for a field the text does not contain. Dates as YYYY-MM-DD, times as HH:MM."
    ),
    render=lambda d: f"Fields: {', '.join(d.fields)}\n{block('text', d.text)}",
    examples=(
        (
            {"text": "Dentist with Dr. Okafor on 12 May 2026 at 3pm.", "fields": ["who", "date", "time"]},
            {"who": "Dr. Okafor", "date": "2026-05-12", "time": "15:00"},
        ),
    ),
    rubric="Are the same fields filled with the same values (format differences allowed)?",
    output_model=ExtractOutput,
    from_structured=lambda out, d: {f: out.model_dump().get(f) for f in d.fields},
    parse=first_json_object,
    judge=field_f1,
    similar=("fields",),
    stop=("\n",),
    max_tokens=96,
)
