"""Which scores are evidence: the one rule every reader of the scores (the gate, the drift test, the
``confidence`` view, the analysis) goes through, so none of them counts a repeat as new evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["evidence_scores"]

_SINCE_DEMOTION = """
    LEFT JOIN (SELECT task_type, model, max(ts) AS since FROM events WHERE action = 'demote' GROUP BY ALL) d
    ON d.task_type = s.task_type AND d.model = s.candidate
"""
_ONE_PER_TASK = """
    QUALIFY row_number() OVER (
        PARTITION BY s.candidate, s.task_type, s.task_id, s.judge, s.prompt_version
        ORDER BY s.ts DESC, s.score_id DESC
    ) = 1
"""


def evidence_scores(
    after_demotion: bool,
    source: str | None = None,
    exclude_source: str | None = None,
    model: str | None = None,
    task_type: str | None = None,
    since: datetime | None = None,
) -> tuple[str, list[Any]]:
    """The ``ok`` scores the evidence reads, as (a relation of ``scores`` rows, its parameters): one per
    candidate × task × judge (× prompt version), the latest, so golden tasks run again or a live task
    routed twice never count as more evidence than one task gives. ``after_demotion`` keeps only scores
    newer than the candidate's last demotion for the type; ``source`` keeps one source, ``exclude_source``
    drops one; ``since`` keeps newer scores only."""
    where, params = [], []
    for clause, value in (
        ("s.source = ?", source),
        ("s.source <> ?", exclude_source),
        ("s.candidate = ?", model),
        ("s.task_type = ?", task_type),
        ("s.ts > ?", since),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    if after_demotion:
        where.append("(d.since IS NULL OR s.ts > d.since)")
    join = _SINCE_DEMOTION if after_demotion else ""
    conditions = "".join(f" AND {w}" for w in where)
    return f"(SELECT s.* FROM scores s {join} WHERE s.status = 'ok' {conditions} {_ONE_PER_TASK})", params
