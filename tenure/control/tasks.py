"""The seven commodity task types: what each takes, how each is asked, what each returns, how it is judged.

Every type has an input model, a chat prompt for instruction models, a few-shot completion prompt for
base models (the embedded model), an output model where the output is structured (classify, extract),
and the name of its deterministic judge (``None`` where only a similarity or LLM judge can score it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = ["TASK_TYPES", "Task", "TaskError", "TaskType", "get_type", "parse_task"]

MAX_INPUT_CHARS = 200_000
"""A task's text fields together; a commodity task is an email or a note, not a book."""


class TaskError(ValueError):
    """A task that cannot be run: the message names the field and the problem."""


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ClassifyInput(_Input):
    text: str = Field(min_length=1)
    labels: list[str] = Field(min_length=2)


class ExtractInput(_Input):
    text: str = Field(min_length=1)
    fields: list[str] = Field(min_length=1)


class FormatInput(_Input):
    text: str = Field(min_length=1)
    target: Literal["json", "yaml", "csv", "markdown_table"]
    instruction: str = Field(min_length=1)


class SummarizeInput(_Input):
    text: str = Field(min_length=1)
    max_words: int = Field(default=50, ge=5, le=500)


class AnalyzeInput(_Input):
    text: str = Field(min_length=1)
    question: str = Field(min_length=1)


class Passage(_Input):
    id: str = Field(min_length=1)
    text: str = Field(min_length=1)


class RagInput(_Input):
    question: str = Field(min_length=1)
    passages: list[Passage] = Field(min_length=1)


class CodeInput(_Input):
    language: Literal["python"] = "python"
    code: str = Field(min_length=1)
    instruction: str = Field(min_length=1)
    tests: str | None = None
    """Python asserts run against the transformed code, when given."""


class ClassifyOutput(BaseModel):
    label: str
    """Exactly one of the allowed labels."""


class ExtractOutput(BaseModel):
    model_config = ConfigDict(extra="allow")
    """One key per requested field; ``null`` when the text does not say."""


@dataclass(frozen=True)
class TaskType:
    """One commodity task type."""

    name: str
    input_model: type[_Input]
    instructions: str
    """System instructions for instruction models."""
    render: Callable[[Any], str]
    """The task input as the user message (chat) or the open query (completion)."""
    examples: tuple[tuple[dict[str, Any], Any], ...]
    """Solved (input, output) pairs for few-shot completion prompts."""
    output_model: type[BaseModel] | None = None
    judge: str | None = None
    """Deterministic judge name, or None where only similarity or an LLM can judge."""
    stop: tuple[str, ...] = ("\n\n",)
    max_tokens: int = 160
    """Completion budget for base models (instruction models stop by themselves)."""

    def chat(self, data: _Input) -> tuple[str, str]:
        """(instructions, user message) for an instruction model."""
        return self.instructions, self.render(data)

    def completion(self, data: _Input, shots: Sequence[tuple[dict[str, Any], Any]] = ()) -> str:
        """A few-shot completion prompt for a base model: solved examples, then this task.

        ``shots`` (e.g. similar golden tasks) replace the built-in examples when given.
        """
        solved = [
            f"{self.render(self.input_model(**i))}\nAnswer: {_as_text(o)}" for i, o in shots or self.examples
        ]
        return "\n\n".join([self.instructions, *solved, f"{self.render(data)}\nAnswer:"])

    def parse(self, text: str, data: _Input) -> Any:
        """Turn a model's text answer into this type's output (base models cannot do structured output)."""
        text = text.strip()
        if self.name == "classify":
            return _closest_label(text, data.labels)  # type: ignore[attr-defined]
        if self.name == "extract":
            return _json_object(text, data.fields)  # type: ignore[attr-defined]
        return text


def _as_text(output: Any) -> str:
    return json.dumps(output) if isinstance(output, dict) else str(output)


def _closest_label(text: str, labels: list[str]) -> str:
    """The label the answer names first; the raw first word when it names none (judged as wrong)."""
    lowered = text.lower()
    found = [(lowered.find(label.lower()), label) for label in labels if label.lower() in lowered]
    return min(found)[1] if found else (lowered.split() or [""])[0]


def _json_object(text: str, fields: list[str]) -> dict[str, Any]:
    """The first JSON object in the answer, restricted to the requested fields (missing → null)."""
    match = re.search(r"\{.*?\}", text, re.S)
    try:
        found = json.loads(match.group(0)) if match else {}
    except json.JSONDecodeError:
        found = {}
    return {f: (found.get(f) if isinstance(found, dict) else None) for f in fields}


def _passages(data: RagInput) -> str:
    return "\n".join(f"[{p.id}] {p.text}" for p in data.passages)


TASK_TYPES: dict[str, TaskType] = {
    t.name: t
    for t in (
        TaskType(
            name="classify",
            max_tokens=8,
            input_model=ClassifyInput,
            instructions="Classify the text. Answer with exactly one of the allowed labels and nothing else.",
            render=lambda d: f"Labels: {', '.join(d.labels)}\nText: {d.text}",
            examples=(
                (
                    {
                        "text": "Your March invoice #2231 is attached, due in 14 days.",
                        "labels": ["billing", "social", "spam"],
                    },
                    "billing",
                ),
                (
                    {
                        "text": "You WON a free cruise!!! Click to claim now",
                        "labels": ["billing", "social", "spam"],
                    },
                    "spam",
                ),
            ),
            output_model=ClassifyOutput,
            judge="label_match",
            stop=("\n",),
        ),
        TaskType(
            name="extract",
            max_tokens=96,
            input_model=ExtractInput,
            instructions=(
                "Extract the requested fields from the text. Answer with one JSON object with exactly "
                "those keys; "
                "use null for a field the text does not contain. Dates as YYYY-MM-DD, times as HH:MM."
            ),
            render=lambda d: f"Fields: {', '.join(d.fields)}\nText: {d.text}",
            examples=(
                (
                    {
                        "text": "Dentist with Dr. Okafor on 12 May 2026 at 3pm.",
                        "fields": ["who", "date", "time"],
                    },
                    {"who": "Dr. Okafor", "date": "2026-05-12", "time": "15:00"},
                ),
            ),
            output_model=ExtractOutput,
            judge="field_f1",
            stop=("\n",),
        ),
        TaskType(
            name="format",
            max_tokens=200,
            input_model=FormatInput,
            instructions="Rewrite the text in the target format, following the instruction exactly. "
            "Output only it.",
            render=lambda d: f"Target: {d.target}\nInstruction: {d.instruction}\nText: {d.text}",
            examples=(
                (
                    {"text": "milk 2, eggs 12", "target": "json", "instruction": "A list of {item, qty}."},
                    '[{"item": "milk", "qty": 2}, {"item": "eggs", "qty": 12}]',
                ),
            ),
            judge="format_structure",
        ),
        TaskType(
            name="summarize",
            max_tokens=120,
            input_model=SummarizeInput,
            instructions="Summarise the text for a busy person: decisions, numbers, dates, owners. "
            "Plain prose.",
            render=lambda d: f"Summarise in at most {d.max_words} words.\nText: {d.text}",
            examples=(
                (
                    {
                        "text": "Hi all, we agreed to move the launch from 3 to 10 June because QA found "
                        "two blockers. "
                        "Priya owns the fixes; Tom updates the press list by Friday.",
                        "max_words": 25,
                    },
                    "Launch moved from 3 to 10 June for two QA blockers; Priya fixes them, Tom updates "
                    "the press "
                    "list by Friday.",
                ),
            ),
        ),
        TaskType(
            name="analyze",
            max_tokens=120,
            input_model=AnalyzeInput,
            instructions="Answer the question from the text: conclusion first, then the key "
            "evidence, briefly.",
            render=lambda d: f"Question: {d.question}\nText: {d.text}",
            examples=(
                (
                    {
                        "text": "Disk use: Mon 71%, Tue 78%, Wed 85%. Backups run nightly.",
                        "question": "When will the disk fill up at this rate?",
                    },
                    "Around Saturday: usage grows about 7 points a day from 85% on Wednesday.",
                ),
            ),
        ),
        TaskType(
            name="rag_synthesis",
            max_tokens=120,
            input_model=RagInput,
            instructions=(
                "Answer the question using only the passages, citing the ids you rely on like [p1]. "
                "If the passages do not contain the answer, say so."
            ),
            render=lambda d: f"Question: {d.question}\nPassages:\n{_passages(d)}",
            examples=(
                (
                    {
                        "question": "Which VPN did we pick?",
                        "passages": [
                            {"id": "p1", "text": "2026-02-01: decided on WireGuard over OpenVPN."},
                            {"id": "p2", "text": "Groceries: oat milk."},
                        ],
                    },
                    "WireGuard, chosen over OpenVPN on 2026-02-01 [p1].",
                ),
            ),
        ),
        TaskType(
            name="code_transform",
            max_tokens=320,
            input_model=CodeInput,
            instructions="Apply the instruction to the code. Output only the complete transformed "
            "code, no prose.",
            render=lambda d: f"Instruction: {d.instruction}\nCode ({d.language}):\n{d.code}",
            examples=(
                (
                    {
                        "code": "def total(xs):\n    t = 0\n    for x in xs:\n        t += x\n    return t",
                        "instruction": "Use the built-in sum.",
                    },
                    "def total(xs):\n    return sum(xs)",
                ),
            ),
            judge="code_tests",
            stop=("\n\n\n", "Instruction:"),
        ),
    )
}


class Task(BaseModel):
    """One task to route or evaluate. ``reference`` is the known-good answer (golden set, archive)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    type: str
    input: dict[str, Any]
    reference: Any = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in TASK_TYPES:
            raise ValueError(f"unknown task type '{value}'; expected one of {', '.join(TASK_TYPES)}")
        return value

    @property
    def kind(self) -> TaskType:
        return TASK_TYPES[self.type]

    def data(self) -> _Input:
        """The validated input model for this task's type."""
        return self.kind.input_model(**self.input)


def get_type(name: str) -> TaskType:
    try:
        return TASK_TYPES[name]
    except KeyError:
        raise TaskError(f"unknown task type '{name}'; expected one of {', '.join(TASK_TYPES)}") from None


def parse_task(raw: dict[str, Any] | str | bytes, *, task_type: str | None = None) -> Task:
    """Validate a task from JSON (or a dict); errors name the field and the expected form."""
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
        get_type(task_type)
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
    return task


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []
