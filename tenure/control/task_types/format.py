"""format: rewrite a text as JSON, YAML, CSV or a markdown table; judged by parsing and comparing."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any, Literal

import yaml
from pydantic import Field

from tenure.control.task_types.base import TaskInput, TaskType, block
from tenure.control.verdict import Verdict

__all__ = ["TASK_TYPE", "FormatInput", "format_structure"]

Target = Literal["json", "yaml", "csv", "markdown_table"]


class FormatInput(TaskInput):
    text: str = Field(min_length=1)
    target: Target
    instruction: str = Field(min_length=1)


def _parse(text: str, target: str) -> Any:
    text = text.strip()
    if text.startswith("```"):  # a fenced answer is fine; the fence is not part of the format
        text = re.sub(r"^```[\w-]*\n|\n?```$", "", text)
    if target == "json":
        return json.loads(text)
    if target == "yaml":
        value = yaml.safe_load(text)
        if not isinstance(value, dict | list):
            raise ValueError("YAML is not a mapping or a list")
        return value
    if target == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        if not rows or any(len(r) != len(rows[0]) for r in rows):
            raise ValueError("CSV rows have different numbers of columns")
        return {"header": rows[0], "rows": len(rows) - 1}
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    if len(cells) < 2 or not all(line.startswith("|") for line in lines) or not set(lines[1]) <= set("|-: "):
        raise ValueError("not a pipe table with a header and a separator row")
    if any(len(row) != len(cells[0]) for row in cells):
        raise ValueError("table rows have different numbers of cells")
    return {"header": cells[0], "rows": len(cells) - 2}


def _shape(value: Any) -> Any:
    """The structure of a parsed value with the content stripped: keys, nesting and lengths."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return type(value).__name__ if not isinstance(value, int | float) or isinstance(value, bool) else "number"


def format_structure(output: Any, reference: str, target: str) -> Verdict:
    """0 if it does not parse as the target; 0.5 if it parses; 0.75 same shape; 1.0 same content."""
    try:
        got = _parse(str(output), target)
    except (ValueError, yaml.YAMLError) as exc:
        return Verdict("format_structure", "deterministic", 0.0, False, f"not valid {target}: {exc}"[:200])
    want = _parse(reference, target)
    if got == want:
        return Verdict("format_structure", "deterministic", 1.0, True, f"valid {target}, same content")
    if _shape(got) == _shape(want):
        return Verdict("format_structure", "deterministic", 0.75, False, f"valid {target}, same structure")
    return Verdict("format_structure", "deterministic", 0.5, False, f"valid {target}, different structure")


TASK_TYPE = TaskType[FormatInput](
    name="format",
    input_model=FormatInput,
    instructions="Rewrite the text in the target format, following the instruction exactly. Output only it.",
    render=lambda d: f"Target: {d.target}\nInstruction: {d.instruction}\n{block('text', d.text)}",
    examples=(
        (
            {"text": "milk 2, eggs 12", "target": "json", "instruction": "A list of {item, qty}."},
            '[{"item": "milk", "qty": 2}, {"item": "eggs", "qty": 12}]',
        ),
    ),
    rubric="Is the candidate valid in the target format with the same structure and content?",
    judge=lambda output, reference, d: format_structure(output, reference, d.target),
    similar=("target",),
    max_tokens=200,
)
