"""rag_synthesis: answer from passages only, citing their ids; judged by an LLM (offline: similarity +
valid citations)."""

from __future__ import annotations

import re

from pydantic import Field

from tenure.control.task_types.base import TaskInput, TaskType, block

__all__ = ["TASK_TYPE", "Passage", "RagInput"]


class Passage(TaskInput):
    id: str = Field(min_length=1)
    text: str = Field(min_length=1)


class RagInput(TaskInput):
    question: str = Field(min_length=1)
    passages: list[Passage] = Field(min_length=1)


def _passages(data: RagInput) -> str:
    return "\n".join(f"[{p.id}] {p.text}" for p in data.passages)


def _known_citations(text: str, data: RagInput) -> list[str]:
    unknown = set(re.findall(r"\[(p\d+)\]", text)) - {p.id for p in data.passages}
    return [f"cites unknown passages {sorted(unknown)}"] if unknown else []


TASK_TYPE = TaskType[RagInput](
    name="rag_synthesis",
    input_model=RagInput,
    instructions=(
        "Answer the question using only the passages, citing the ids you rely on like [p1]. "
        "If the passages do not contain the answer, say so."
    ),
    render=lambda d: f"Question: {d.question}\n{block('passages', _passages(d))}",
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
    rubric="Same answer, supported only by the passages, with correct citations?",
    checks=_known_citations,
    max_tokens=120,
)
