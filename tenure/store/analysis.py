"""The analysis's named queries (``tenure.analysis``, the scores notebook, ``tenure report``): the scores
of a stream one by one, in order, and what each provider's attempts did. Everything else the analysis
shows comes from the queries the control plane already runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tenure.store.log import ScoreLog, evidence_scores

__all__ = ["ProviderAttempts", "ScorePoint", "last_errors", "provider_attempts", "score_series"]


@dataclass(frozen=True)
class ScorePoint:
    """One ``ok`` score, with the stream it belongs to (the key of ``ScoreLog.score_totals``)."""

    ts: datetime
    model: str
    task_type: str
    judge: str
    judge_kind: str
    prompt_version: str | None
    excluded: str | None
    score: float
    passed: bool | None

    @property
    def stream(self) -> tuple[str, str, str, str | None, str | None]:
        return (self.model, self.task_type, self.judge, self.prompt_version, self.excluded)


def score_series(
    log: ScoreLog,
    *,
    after_demotion: bool,
    source: str | None = None,
    exclude_source: str | None = None,
    model: str | None = None,
    task_type: str | None = None,
    since: datetime | None = None,
) -> list[ScorePoint]:
    """The scores ``ScoreLog.score_totals`` sums, filtered the same way, one by one, oldest first."""
    scores, params = evidence_scores(after_demotion, source, exclude_source, model, task_type, since)
    _, rows = log.query(
        f"""
        SELECT s.ts, s.candidate, s.task_type, s.judge, s.judge_kind, s.prompt_version, s.excluded,
               s.score, s.passed
        FROM {scores} s
        WHERE s.score IS NOT NULL
        ORDER BY s.ts, s.score_id
        """,
        params,
    )
    return [ScorePoint(ts, m, t, j, k, v, x, score, passed) for ts, m, t, j, k, v, x, score, passed in rows]


@dataclass(frozen=True)
class ProviderAttempts:
    """What the model layer's attempts on one provider's models came to (from each run's call record)."""

    provider: str
    attempts: int
    """Requests sent (links skipped without sending are counted apart)."""
    ok: int
    fell_back: int
    """Attempts after which the chain moved on to its next model."""
    retried: int
    failed: int
    skipped: int
    latency_p50_ms: float | None
    latency_p90_ms: float | None

    @property
    def fallback_rate(self) -> float:
        return self.fell_back / self.attempts if self.attempts else 0.0


_ATTEMPT = '[{"model": "VARCHAR", "outcome": "VARCHAR", "latency_ms": "DOUBLE"}]'


def provider_attempts(log: ScoreLog, since: datetime | None = None) -> list[ProviderAttempts]:
    """Per provider, every attempt the runs' call records hold (newer than ``since``): outcomes and the
    latency of the requests sent. Turns' records hold no attempts and add nothing."""
    _, rows = log.query(
        f"""
        WITH a AS (
            SELECT unnest(from_json(record::JSON -> 'attempts', '{_ATTEMPT}'), recursive := true)
            FROM runs WHERE record IS NOT NULL AND (? IS NULL OR ts > ?)
        )
        SELECT split_part(model, ':', 1) AS provider,
               count(*) FILTER (WHERE outcome <> 'skipped'),
               count(*) FILTER (WHERE outcome = 'ok'),
               count(*) FILTER (WHERE outcome = 'fell_back'),
               count(*) FILTER (WHERE outcome = 'retried'),
               count(*) FILTER (WHERE outcome = 'failed'),
               count(*) FILTER (WHERE outcome = 'skipped'),
               quantile_cont(latency_ms, 0.5) FILTER (WHERE outcome <> 'skipped'),
               quantile_cont(latency_ms, 0.9) FILTER (WHERE outcome <> 'skipped')
        FROM a WHERE model IS NOT NULL GROUP BY 1 ORDER BY 1
        """,
        [since, since],
    )
    return [
        ProviderAttempts(
            provider, int(sent), int(ok), int(fell), int(retried), int(failed), int(skipped), p50, p90
        )
        for provider, sent, ok, fell, retried, failed, skipped, p50, p90 in rows
    ]


def last_errors(log: ScoreLog, since: datetime) -> dict[str, str]:
    """Each candidate's latest failed run since ``since``: model → its error (why an eval scored nothing)."""
    _, rows = log.query(
        "SELECT model, arg_max(error, ts) FROM runs WHERE role = 'candidate' AND error IS NOT NULL "
        "AND ts >= ? GROUP BY model ORDER BY model",
        [since],
    )
    return {str(model): str(error).splitlines()[0][:200] for model, error in rows}
