"""What evidence counts for a model on a task type, and what the gate says about it.

The one owner of these rules: ``promotion_check`` acts on them, ``tenure scores`` shows them and
``tenure backtest`` reports them, so the three cannot disagree.

- A *stream* is one candidate × task type × judge: its ``ok`` scores, summed.
- Shadow scores are evidence for the promotion gate; canary scores are not (they feed the drift test
  of a promoted model, counted from its promotion).
- Only the type's primary judge is evidence: deterministic where the type has a deterministic judge,
  else the LLM judge. The offline heuristic judge is shown, never gated on. Judges are never pooled:
  each stream is gated on its own.
- A demoted model starts over: only scores newer than its last demotion for the type count.
- Checking the sufficient statistics (sum, count) on a schedule is valid for the sequential gate: its
  guarantee holds at every time, so at any subset of times.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from tenure.config import TenureConfig
from tenure.control import task_types
from tenure.control.gates import Decision, FixedGate, SequentialGate, gate_from_settings, make_drift_detector
from tenure.control.task_types import TaskError
from tenure.control.verdict import JudgeKind
from tenure.store import ScoreLog, ScoreTotals

__all__ = ["Reading", "canary_readings", "gate_for", "primary_judge_kind", "shadow_readings"]

Use = Literal["evidence", "shown", "canary"]


@dataclass(frozen=True)
class Reading:
    """One stream as the rules read it: gate evidence, a drift check, or shown only (and why)."""

    stream: ScoreTotals
    use: Use
    decision: Decision | None
    """The promotion gate's decision (evidence) or the drift detector's (canary); None when shown only."""
    note: str = ""
    """Why a stream is shown only, or what a canary stream is measured since."""
    runs_needed: int | None = None
    """Roughly how many more runs the gate needs to promote, if the mean holds."""

    def summary(self) -> dict[str, Any]:
        """The reading as plain data (what a flow returns and ``--json`` prints)."""
        s, d = self.stream, self.decision
        return {
            "model": s.model,
            "task_type": s.task_type,
            "judge": s.judge,
            "judge_kind": s.judge_kind,
            "use": self.use,
            "n": s.n,
            "mean": s.mean,
            "bound": d.bound if d else None,
            "decision": d.action if d else None,
            "note": self.note,
        }


def primary_judge_kind(task_type: str) -> JudgeKind:
    """The judge whose scores are a type's evidence: its deterministic judge if it has one, else the LLM."""
    return "deterministic" if task_types.get(task_type).judge else "llm"


def gate_for(config: TenureConfig, task_type: str) -> FixedGate | SequentialGate:
    return gate_from_settings(config.task_type(task_type).gate)


def _not_evidence(stream: ScoreTotals) -> str | None:
    """Why a shadow stream is not evidence, or None when it is."""
    try:
        primary = primary_judge_kind(stream.task_type)
    except TaskError:
        return f"unknown task type {stream.task_type!r}"
    if stream.judge_kind == primary:
        return None
    if stream.judge_kind == "heuristic":
        return "heuristic judge: never gated on"
    return f"not the type's primary judge ({primary})"


def shadow_readings(
    log: ScoreLog,
    config: TenureConfig,
    *,
    source: str | None = None,
    model: str | None = None,
    task_type: str | None = None,
) -> list[Reading]:
    """Every shadow stream (optionally of one source, model or type), each read by the rules."""
    readings = []
    streams = log.score_totals(
        after_demotion=True, exclude_source="canary", source=source, model=model, task_type=task_type
    )
    for stream in streams:
        why = _not_evidence(stream)
        if why is not None:
            readings.append(Reading(stream, "shown", None, why))
            continue
        gate = gate_for(config, stream.task_type)
        decision = gate.assess(stream.total, stream.n)
        readings.append(
            Reading(stream, "evidence", decision, runs_needed=gate.runs_needed(stream.total, stream.n))
        )
    return readings


def canary_readings(
    log: ScoreLog, config: TenureConfig, promoted: Mapping[str, tuple[str, datetime]]
) -> list[Reading]:
    """The drift test on each promoted model's canary scores from its primary judge since its promotion
    (``promoted``: task type → (model, promoted at))."""
    readings = []
    for task_type, (model, since) in promoted.items():
        primary = primary_judge_kind(task_type)
        bar = config.task_type(task_type).gate.bar
        detector = make_drift_detector(bar=bar)
        for stream in log.score_totals(
            after_demotion=False, source="canary", model=model, task_type=task_type, since=since
        ):
            if stream.judge_kind != primary:
                continue
            note = f"canary scores since the promotion at {since:%Y-%m-%d %H:%M} UTC, against the bar {bar}"
            readings.append(Reading(stream, "canary", detector.assess(stream.total, stream.n), note))
    return readings
