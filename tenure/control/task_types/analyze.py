"""analyze: answer a question about a text, conclusion first; judged by an LLM (offline: similarity)."""

from __future__ import annotations

from pydantic import Field

from tenure.control.task_types.base import TaskInput, TaskType, block

__all__ = ["TASK_TYPE", "AnalyzeInput"]


class AnalyzeInput(TaskInput):
    text: str = Field(min_length=1)
    question: str = Field(min_length=1)


TASK_TYPE = TaskType[AnalyzeInput](
    name="analyze",
    input_model=AnalyzeInput,
    instructions="Answer the question from the text: conclusion first, then the key evidence, briefly.",
    render=lambda d: f"Question: {d.question}\n{block('text', d.text)}",
    examples=(
        (
            {
                "text": "Disk use: Mon 71%, Tue 78%, Wed 85%. Backups run nightly.",
                "question": "When will the disk fill up at this rate?",
            },
            "Around Saturday: usage grows about 7 points a day from 85% on Wednesday.",
        ),
    ),
    rubric="Does the candidate reach the same conclusion for the same reasons, with correct numbers?",
    max_tokens=120,
)
