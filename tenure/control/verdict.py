"""What a judge says about one candidate output; every score in the log comes from one of these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["JudgeKind", "Verdict"]

JudgeKind = Literal["deterministic", "heuristic", "llm"]
"""deterministic: exact and free (label match, field F1, parses, tests pass); heuristic: the offline
similarity stand-in for an LLM judge; llm: a strong model with the type's rubric."""


@dataclass(frozen=True)
class Verdict:
    """A judge's score for one candidate output."""

    judge: str
    """e.g. ``label_match``, ``heuristic:minilm``, ``llm:anthropic:claude-opus-4-6``."""
    kind: JudgeKind
    score: float
    passed: bool
    reason: str
    cost_usd: float = 0.0
    """What producing the verdict cost (LLM judges)."""
    prompt_version: str | None = None
    """The LLM judge's prompt version; None for the other kinds."""
