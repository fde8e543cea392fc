"""summarize: a short summary within a word limit; judged by an LLM (offline: similarity + the limit)."""

from __future__ import annotations

from pydantic import Field

from tenure.control.task_types.base import TaskInput, TaskType, block

__all__ = ["TASK_TYPE", "SummarizeInput"]


class SummarizeInput(TaskInput):
    text: str = Field(min_length=1)
    max_words: int = Field(default=50, ge=5, le=500)


def _word_limit(text: str, data: SummarizeInput) -> list[str]:
    words = len(text.split())
    return [f"{words} words > {data.max_words}"] if words > data.max_words else []


TASK_TYPE = TaskType[SummarizeInput](
    name="summarize",
    input_model=SummarizeInput,
    instructions="Summarise the text for a busy person: decisions, numbers, dates, owners. Plain prose.",
    render=lambda d: f"Summarise in at most {d.max_words} words.\n{block('text', d.text)}",
    examples=(
        (
            {
                "text": "Hi all, we agreed to move the launch from 3 to 10 June because QA found two "
                "blockers. Priya owns the fixes; Tom updates the press list by Friday.",
                "max_words": 25,
            },
            "Launch moved from 3 to 10 June for two QA blockers; Priya fixes them, Tom updates the press "
            "list by Friday.",
        ),
    ),
    rubric="Does the candidate keep the reference's decisions, numbers, dates and owners, "
    "within the word limit?",
    checks=_word_limit,
    max_tokens=120,
)
