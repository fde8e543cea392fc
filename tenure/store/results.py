"""What the score log's queries return beyond rows: judged pairs, score totals, compaction reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tenure.store.rows import ScoreRow

__all__ = ["CompactionReport", "JudgedPair", "ScoreTotals"]


@dataclass(frozen=True)
class JudgedPair:
    """A judged score with what was judged: the task input, the reference and the candidate's output."""

    score: ScoreRow
    input: Any
    reference: Any
    output: Any


@dataclass(frozen=True)
class CompactionReport:
    table: str
    segments_before: int
    segments_after: int
    rows: int


@dataclass(frozen=True)
class ScoreTotals:
    """The ``ok`` scores of one candidate × task type × judge (and judge prompt version, and reason for
    being no evidence), summed: what a gate reads."""

    model: str
    task_type: str
    judge: str
    judge_kind: str
    prompt_version: str | None
    excluded: str | None
    n: int
    total: float
    """The sum of the scores."""
    passes: int
    """How many the judge passed."""
    std: float
    last_update: datetime | None

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0
