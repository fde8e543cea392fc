"""The cost ledger: what the team spent (per model, provider, agent, task type or day, judging apart),
what each calendar month came to with the fixed costs from config, and what promotions saved.

Savings, per promoted task type: every answer a promoted local model gave (``promoted`` and ``canary``
runs) is an answer the ground truth did not give. What that would have cost is priced from the type's
shadow pairs: the ground truth's mean measured cost per task over the tasks a candidate shadowed. What
the promotion cost is the promoted model's own spend, the ground-truth calls that checked its canaries,
and the judging of those canaries. Saved = avoided − spent.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from tenure.config import TenureConfig
from tenure.store import ScoreLog
from tenure.store.costs import Spend, gt_unit_costs, judge_spend, run_spend

__all__ = ["METHOD", "By", "Day", "Ledger", "Line", "Month", "Saving", "by_day", "ledger"]

By = Literal["model", "provider", "agent", "task_type", "day"]
METHOD = (
    "avoided = answers by the promoted model × the ground truth's mean cost per task over the type's "
    "shadow pairs; spent = the promoted model's runs + the ground-truth calls checking its canaries + "
    "judging those canaries"
)
SERVED_LOCALLY = ("promoted", "canary")


@dataclass(frozen=True)
class Line:
    key: str
    calls: int
    usd: float
    unpriced: int = 0


@dataclass(frozen=True)
class Month:
    month: str
    """YYYY-MM."""
    variable_usd: float
    fixed: dict[str, float]

    @property
    def total_usd(self) -> float:
        return self.variable_usd + sum(self.fixed.values())


@dataclass(frozen=True)
class Saving:
    task_type: str
    answers: int
    """Answers the promoted model gave (canaries included)."""
    unit_usd: float | None
    """The ground truth's mean cost per task, from ``pairs`` shadow pairs (None: no priced pair)."""
    pairs: int
    spent_usd: float
    avoided_usd: float | None
    saved_usd: float | None


@dataclass(frozen=True)
class Ledger:
    since: datetime
    by: By
    lines: list[Line]
    """Runs (model calls and turns), grouped as asked."""
    judging: list[Line]
    """Judge spend, per judge."""
    months: list[Month]
    savings: list[Saving] = field(default_factory=list)
    method: str = METHOD

    @property
    def runs_usd(self) -> float:
        return sum(line.usd for line in self.lines)

    @property
    def judging_usd(self) -> float:
        return sum(line.usd for line in self.judging)

    @property
    def saved_usd(self) -> float:
        return sum(s.saved_usd or 0.0 for s in self.savings)


@dataclass(frozen=True)
class Day:
    """One UTC day of the ledger: what the runs and the judging cost, and what promotions saved."""

    day: str
    """YYYY-MM-DD."""
    runs_usd: float
    judging_usd: float
    saved_usd: float
    """The savings of the answers promoted models gave that day (priced like the ledger's)."""


def _key(spend: Spend, by: By) -> str:
    if by == "model":
        return spend.served_by
    if by == "provider":
        return spend.served_by.split(":", 1)[0]
    if by == "agent":
        return spend.role if spend.task_type == "agent_turn" else "(commodity tasks)"
    if by == "task_type":
        return spend.task_type
    return spend.day


def _grouped(spends: list[Spend], by: By) -> list[Line]:
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])
    for s in spends:
        t = totals[_key(s, by)]
        t[0] += s.calls
        t[1] += s.usd
        t[2] += s.unpriced
    lines = [Line(k, int(c), round(u, 6), int(n)) for k, (c, u, n) in totals.items()]
    return sorted(lines, key=lambda line: (-line.usd, line.key))


def _savings(runs: list[Spend], judged: list[Spend], units: dict[str, tuple[float, int]]) -> list[Saving]:
    promoted_types = sorted({s.task_type for s in runs if s.role in SERVED_LOCALLY and s.source == "live"})
    found = []
    for task_type in promoted_types:
        local = [
            s for s in runs if s.task_type == task_type and s.role in SERVED_LOCALLY and s.source == "live"
        ]
        checks = [
            s for s in runs if s.task_type == task_type and s.role == "ground_truth" and s.source == "canary"
        ]
        canary_judging = [s for s in judged if s.task_type == task_type and s.source == "canary"]
        answers = sum(s.calls for s in local)
        spent = sum(s.usd for s in local + checks + canary_judging)
        unit, pairs = units.get(task_type, (None, 0))
        avoided = None if unit is None else answers * unit
        saved = None if avoided is None else avoided - spent
        found.append(Saving(task_type, answers, unit, pairs, round(spent, 6),
                            None if avoided is None else round(avoided, 6),
                            None if saved is None else round(saved, 6)))  # fmt: skip
    return found


def ledger(log: ScoreLog, config: TenureConfig, since: datetime, by: By = "model") -> Ledger:
    """The ledger since ``since``; ``by`` groups the run spend (judging is always per judge)."""
    with log.reading() as reader:
        runs = run_spend(reader, since)
        judged = judge_spend(reader, since)
        units = gt_unit_costs(reader)
    months: dict[str, float] = defaultdict(float)
    for s in runs + judged:
        months[s.day[:7]] += s.usd
    return Ledger(
        since=since,
        by=by,
        lines=_grouped(runs, by),
        judging=_grouped(judged, "model"),  # a judge's spend is filed under the judge, as "served by"
        months=[Month(m, round(usd, 6), dict(config.costs.monthly)) for m, usd in sorted(months.items())],
        savings=_savings(runs, judged, units),
    )


def by_day(log: ScoreLog, since: datetime) -> list[Day]:
    """The ledger since ``since`` day by day (days with no runs and no judging are absent); the days'
    savings add up to the ledger's."""
    with log.reading() as reader:
        runs = run_spend(reader, since)
        judged = judge_spend(reader, since)
        units = gt_unit_costs(reader)
    days = []
    for day in sorted({s.day for s in runs + judged}):
        day_runs = [s for s in runs if s.day == day]
        day_judged = [s for s in judged if s.day == day]
        saved = sum(s.saved_usd or 0.0 for s in _savings(day_runs, day_judged, units))
        days.append(Day(day, round(sum(s.usd for s in day_runs), 6), round(sum(s.usd for s in day_judged), 6),
                        round(saved, 6)))  # fmt: skip
    return days
