"""What evidence counts for a model on a task type, and what the gate says about it.

The one owner of these rules: ``promotion_check`` acts on them, ``tenure scores`` shows them and
``tenure backtest`` reports them, so the three cannot disagree.

- A *stream* is one candidate × task type × judge (× judge prompt version): its ``ok`` scores, summed.
- Shadow scores are evidence for the promotion gate; canary scores are not (they feed the drift test
  of a promoted model, counted from its promotion).
- A score whose ground truth or judge was not eligible (``eligibility.py``: the candidate graded itself,
  a fallback answered the ground truth, …) is shown with the reason and never gated on.
- Only the type's primary judge is evidence: deterministic where the type has a deterministic judge,
  else the LLM judge. The offline heuristic judge is shown, never gated on. Judges are never pooled:
  each stream is gated on its own.
- An LLM judge is evidence for a type only once calibrated there (``tenure judge calibrate``) with
  Cohen's κ at least ``judge.kappa_floor`` and without passing any labelled answer that addresses the
  grader (a judge an answer can instruct makes every score it gives suspect). The gate then reads its
  pass/fail verdicts, with its bars moved by the judge's measured error rates (``gates.corrected``).
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
from tenure.control.gates import (
    Decision,
    DriftDetector,
    FixedGate,
    JudgeError,
    SequentialGate,
    corrected,
    corrected_drift,
    gate_from_settings,
    make_drift_detector,
)
from tenure.control.task_types import TaskError
from tenure.control.verdict import JudgeKind
from tenure.store import CalibrationRow, ScoreLog, ScoreTotals

__all__ = [
    "Calibrations",
    "Reading",
    "calibrations",
    "canary_readings",
    "drift_detector",
    "evidence_gate",
    "gate_for",
    "judge_error",
    "primary_judge_kind",
    "reads_passes",
    "shadow_readings",
]

Use = Literal["evidence", "shown", "canary"]
Calibrations = Mapping[tuple[str, str | None, str], CalibrationRow]
"""The latest calibration per (judge, prompt version, task type)."""


@dataclass(frozen=True)
class Reading:
    """One stream as the rules read it: gate evidence, a drift check, or shown only (and why)."""

    stream: ScoreTotals
    use: Use
    decision: Decision | None
    """The promotion gate's decision (evidence) or the drift detector's (canary); None when shown only."""
    note: str = ""
    """Why a stream is shown only, what a canary stream is measured since, or how a judge's calibration
    moved the gate."""
    runs_needed: int | None = None
    """Roughly how many more runs the gate needs to promote, if the mean holds."""
    calibration: CalibrationRow | None = None
    """The LLM judge's calibration the gate was corrected by."""

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


def reads_passes(judge_kind: str) -> bool:
    """Whether the gates read a judge's pass/fail verdicts (an LLM judge, whose errors a calibration
    measured as pass/fail rates) rather than its scores (every exact judge)."""
    return judge_kind == "llm"


def evidence_gate(
    config: TenureConfig, task_type: str, calibration: CalibrationRow | None = None
) -> FixedGate | SequentialGate:
    """The gate evidence on ``task_type`` is read by: the type's, moved for the judge's measured errors
    when the evidence is a calibrated LLM judge's verdicts."""
    gate = gate_for(config, task_type)
    return gate if calibration is None else corrected(gate, judge_error(calibration))


def drift_detector(
    config: TenureConfig, task_type: str, calibration: CalibrationRow | None = None
) -> DriftDetector:
    """The canary's drift test for ``task_type``: below the type's bar, moved for the judge's errors
    when its verdicts come from a calibrated LLM judge."""
    detector = make_drift_detector(bar=config.task_type(task_type).gate.bar)
    return detector if calibration is None else corrected_drift(detector, judge_error(calibration))


def calibrations(log: ScoreLog) -> dict[tuple[str, str | None, str], CalibrationRow]:
    """The latest calibration of each judge, prompt version and task type in the log."""
    return {(c.judge, c.prompt_version, c.task_type): c for c in log.calibrations()}


def judge_error(calibration: CalibrationRow) -> JudgeError:
    """The error intervals a calibration measured; a rate it could not measure (no failing, or no
    passing, labels) is taken at its worst."""
    return JudgeError(
        false_pass_low=calibration.false_pass_low or 0.0,
        false_pass_high=1.0 if calibration.false_pass_high is None else calibration.false_pass_high,
        false_fail_low=calibration.false_fail_low or 0.0,
        false_fail_high=1.0 if calibration.false_fail_high is None else calibration.false_fail_high,
    )


def _not_evidence(stream: ScoreTotals, config: TenureConfig, known: Calibrations) -> str | None:
    """Why a shadow stream is not evidence, or None when it is."""
    if stream.excluded:
        return stream.excluded
    try:
        primary = primary_judge_kind(stream.task_type)
    except TaskError:
        return f"unknown task type {stream.task_type!r}"
    if stream.judge in task_types.get(stream.task_type).form_only:
        return f"{stream.judge} checks form only (the tasks had no tests)"
    if stream.judge_kind != primary:
        if stream.judge_kind == "heuristic":
            return "heuristic judge: never gated on"
        return f"not the type's primary judge ({primary})"
    if primary == "llm":
        calibration = known.get((stream.judge, stream.prompt_version, stream.task_type))
        if calibration is None:
            return f"{stream.judge} is not calibrated for {stream.task_type} (tenure judge calibrate)"
        if calibration.injected_passes:
            return (
                f"{stream.judge} obeyed instructions written into answers ({calibration.injected_passes} of "
                f"{calibration.injected_pairs} labelled pairs that address the grader) on {stream.task_type}"
            )
        floor = config.judge.kappa_floor
        if calibration.kappa is None or calibration.kappa < floor:
            kappa = "unmeasured" if calibration.kappa is None else f"{calibration.kappa:.2f}"
            return f"{stream.judge}'s κ on {stream.task_type} is {kappa}, below judge.kappa_floor {floor}"
    return None


def _read(stream: ScoreTotals, config: TenureConfig, known: Calibrations) -> Reading:
    why = _not_evidence(stream, config, known)
    if why is not None:
        return Reading(stream, "shown", None, why)
    if not reads_passes(stream.judge_kind):  # an exact judge: its scores, as they are
        gate = evidence_gate(config, stream.task_type)
        return Reading(
            stream,
            "evidence",
            gate.assess(stream.total, stream.n),
            runs_needed=gate.runs_needed(stream.total, stream.n),
        )
    calibration = known[(stream.judge, stream.prompt_version, stream.task_type)]
    gate = evidence_gate(config, stream.task_type, calibration)
    high = judge_error(calibration).false_pass_high
    note = (
        f"{stream.passes}/{stream.n} passed; bar moved for false passes up to {high:.0%} "
        f"(κ {calibration.kappa:.2f})"
    )
    return Reading(
        stream,
        "evidence",
        gate.assess(stream.passes, stream.n),
        note,
        gate.runs_needed(stream.passes, stream.n),
        calibration,
    )


def shadow_readings(
    log: ScoreLog,
    config: TenureConfig,
    *,
    source: str | None = None,
    model: str | None = None,
    task_type: str | None = None,
) -> list[Reading]:
    """Every shadow stream (optionally of one source, model or type), each read by the rules."""
    known = calibrations(log)
    streams = log.score_totals(
        after_demotion=True, exclude_source="canary", source=source, model=model, task_type=task_type
    )
    return [_read(stream, config, known) for stream in streams]


def canary_readings(
    log: ScoreLog, config: TenureConfig, promoted: Mapping[str, tuple[str, datetime]]
) -> list[Reading]:
    """The drift test on each promoted model's canary scores from its primary judge since its promotion
    (``promoted``: task type → (model, promoted at)). An LLM judge's verdicts are read as pass/fail,
    against the bar moved for its errors when it is calibrated."""
    known = calibrations(log) if promoted else {}
    readings = []
    for task_type, (model, since) in promoted.items():
        primary = primary_judge_kind(task_type)
        for stream in log.score_totals(
            after_demotion=False, source="canary", model=model, task_type=task_type, since=since
        ):
            if stream.judge_kind != primary:
                continue
            if stream.excluded:
                readings.append(Reading(stream, "shown", None, stream.excluded))
                continue
            calibration = known.get((stream.judge, stream.prompt_version, task_type))
            total = stream.passes if reads_passes(primary) else stream.total
            detector = drift_detector(config, task_type, calibration if reads_passes(primary) else None)
            note = f"canary scores since the promotion at {since:%Y-%m-%d %H:%M} UTC, bar {detector.bar:.3g}"
            readings.append(
                Reading(stream, "canary", detector.assess(total, stream.n), note, calibration=calibration)
            )
    return readings
