"""The cost ledger's named queries over ``runs`` and ``scores``: what was spent, on what, and what the
ground truth costs per task where local models were shadowed against it. The ledger's arithmetic is
``control/costs.py``; these are the only SQL it runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tenure.store.log import ScoreLog

__all__ = ["Spend", "gt_unit_costs", "judge_spend", "run_spend"]


@dataclass(frozen=True)
class Spend:
    """Dollars and calls of one slice of the runs (or of the judging)."""

    day: str
    """YYYY-MM-DD (UTC)."""
    task_type: str
    role: str
    source: str
    served_by: str
    """The model that answered (``-`` when none did); for judging, the judge."""
    calls: int
    usd: float
    unpriced: int
    """Calls with no price (a model the pricing table lacks): counted, not summed."""


def run_spend(log: ScoreLog, since: datetime) -> list[Spend]:
    """Run spend since ``since``, per day × task type × role × source × model that served."""
    _, rows = log.query(
        """
        SELECT strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%d'), task_type, role, source,
               coalesce(served_by, '-'), count(*), coalesce(sum(cost_usd), 0),
               count(*) FILTER (WHERE cost_usd IS NULL AND served_by IS NOT NULL)
        FROM runs WHERE ts >= ? GROUP BY ALL ORDER BY ALL
        """,
        [since],
    )
    return [Spend(d, t, r, s, m, int(n), float(usd), int(u)) for d, t, r, s, m, n, usd, u in rows]


def judge_spend(log: ScoreLog, since: datetime) -> list[Spend]:
    """Judging spend since ``since``, per day × task type × source (live, canary, golden…) × judge."""
    _, rows = log.query(
        """
        SELECT strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%d'), task_type, 'judge', source, judge,
               count(*), coalesce(sum(cost_usd), 0), count(*) FILTER (WHERE cost_usd IS NULL)
        FROM scores WHERE ts >= ? GROUP BY ALL ORDER BY ALL
        """,
        [since],
    )
    return [Spend(d, t, r, s, m, int(n), float(usd), int(u)) for d, t, r, s, m, n, usd, u in rows]


def gt_unit_costs(log: ScoreLog) -> dict[str, tuple[float, int]]:
    """Per task type, the ground truth's mean priced cost per task over the tasks a candidate shadowed
    (the shadow pairs), and how many tasks that mean is over."""
    _, rows = log.query(
        """
        SELECT g.task_type, avg(g.cost_usd), count(*)
        FROM runs g
        WHERE g.role = 'ground_truth' AND g.cost_usd IS NOT NULL
          AND EXISTS (SELECT 1 FROM runs c WHERE c.role = 'candidate' AND c.gt_run_id = g.run_id)
        GROUP BY g.task_type
        """
    )
    return {task_type: (float(mean), int(n)) for task_type, mean, n in rows}
