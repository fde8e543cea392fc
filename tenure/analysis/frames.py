"""The data each figure of the scores notebook and ``tenure report`` draws, computed by the rules that
act on it: streams and their gates from ``control.evidence``, the drift test from the same place, the
scoreboard from ``control.scoreboard``, spend and savings from ``control.costs``. Nothing here decides;
it only replays those decisions run by run, so a curve ends where ``tenure scores`` stands."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tenure.config import TenureConfig
from tenure.control.costs import Day, by_day
from tenure.control.evidence import (
    calibrations,
    drift_detector,
    evidence_gate,
    primary_judge_kind,
    reads_passes,
    shadow_readings,
)
from tenure.control.gates import SequentialGate
from tenure.control.scoreboard import BoardRow, scoreboard
from tenure.control.task_types import TaskError
from tenure.store import CalibrationRow, ScoreLog
from tenure.store.analysis import ProviderAttempts, ScorePoint, provider_attempts, score_series

__all__ = [
    "BEGINNING",
    "CanaryPath",
    "GatePath",
    "JudgeTrust",
    "board",
    "canary_paths",
    "gate_paths",
    "judge_trust",
    "providers",
    "spend",
]

BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)
MAX_POINTS = 300
"""A path is drawn through at most this many points (evenly spaced in n, the last one always)."""


def _sampled(n: int) -> list[int]:
    """The run counts 1..n a path is drawn through."""
    if n <= MAX_POINTS:
        return list(range(1, n + 1))
    step = n / MAX_POINTS
    return sorted({max(1, round(i * step)) for i in range(1, MAX_POINTS)} | {n})


def _values(points: list[ScorePoint]) -> list[float]:
    """What the gates read of each score: an LLM judge's pass/fail verdict, any other judge's score."""
    return [float(bool(p.passed)) if reads_passes(p.judge_kind) else p.score for p in points]


def _running(values: list[float], at: list[int]) -> tuple[list[float], list[float]]:
    """The running totals and means at the run counts ``at``."""
    totals, total, k = [], 0.0, 0
    for n in at:
        while k < n:
            total += values[k]
            k += 1
        totals.append(total)
    return totals, [t / n for t, n in zip(totals, at, strict=True)]


def board(log: ScoreLog, config: TenureConfig) -> list[BoardRow]:
    """The scoreboard, as ``tenure scores`` shows it."""
    return scoreboard(log, config)


@dataclass(frozen=True)
class GatePath:
    """One stream of gate evidence, run by run: its running mean and the gate's lower bound."""

    model: str
    task_type: str
    judge: str
    policy: str
    reads: str
    """``scores``, or ``passes`` for an LLM judge (its gate moved for its measured errors)."""
    n: list[int]
    mean: list[float]
    bound: list[float]
    """The anytime-valid lower bound at each n (empty for the fixed gate, which has none)."""
    bars: dict[str, float]
    """The lines the gate compares against: ``bar`` and ``promotion null`` (sequential) or ``min_mean``."""
    min_runs: int | None
    decision: str
    """What the gate says on all of it now (promote, continue, reject)."""


def gate_paths(log: ScoreLog, config: TenureConfig) -> list[GatePath]:
    """Every stream the promotion gate reads (shadow evidence since the candidate's last demotion)."""
    with log.reading() as reader:
        readings = [r for r in shadow_readings(reader, config) if r.use == "evidence"]
        series: dict[tuple, list[ScorePoint]] = defaultdict(list)
        for point in score_series(reader, after_demotion=True, exclude_source="canary"):
            series[point.stream].append(point)
    paths = []
    for reading in readings:
        s = reading.stream
        points = series[(s.model, s.task_type, s.judge, s.prompt_version, s.excluded)]
        gate = evidence_gate(config, s.task_type, reading.calibration)
        at = _sampled(len(points))
        totals, means = _running(_values(points), at)
        if isinstance(gate, SequentialGate):
            bound = [gate.lower_bound(t, n) for t, n in zip(totals, at, strict=True)]
            bars, min_runs = {"bar": gate.bar, "promotion null": gate.bar - gate.margin}, None
        else:
            bound, bars, min_runs = [], {"min_mean": gate.min_mean}, gate.min_runs
        decision = reading.decision.action if reading.decision else "continue"
        reads = "passes" if reads_passes(s.judge_kind) else "scores"
        paths.append(
            GatePath(
                s.model, s.task_type, s.judge, gate.name, reads, at, means, bound, bars, min_runs, decision
            )
        )
    return paths


@dataclass(frozen=True)
class CanaryPath:
    """One promotion's canary scores from the type's primary judge, run by run, against the drift test."""

    model: str
    task_type: str
    judge: str
    promoted_at: datetime
    ended_at: datetime | None
    """When the promotion ended (a demotion, or another model promoted); None while it serves."""
    ended_by: str | None
    """Who ended it: ``drift``, ``user:NAME``, or ``replaced``."""
    n: list[int]
    mean: list[float]
    bar: float
    """The drift test's bar (the type's bar, moved for an LLM judge's errors)."""
    fires_at: int | None
    """The first n at which the drift test says demote, if it has."""


@dataclass
class _Episode:
    task_type: str
    model: str
    promoted_at: datetime
    ended_at: datetime | None = None
    ended_by: str | None = None


def _episodes(log: ScoreLog) -> list[_Episode]:
    """Each promotion recorded in the events, with when and how it ended."""
    episodes: list[_Episode] = []
    serving: dict[str, _Episode] = {}
    for event in log.events():
        current = serving.get(event.task_type)
        if event.ts is None:
            continue
        if event.action == "promote":
            if current is not None:
                current.ended_at, current.ended_by = event.ts, "replaced"
            serving[event.task_type] = _Episode(event.task_type, event.model, event.ts)
            episodes.append(serving[event.task_type])
        elif event.action == "demote" and current is not None and current.model == event.model:
            current.ended_at, current.ended_by = event.ts, event.actor
            del serving[event.task_type]
    return episodes


def _canary_streams(log: ScoreLog, episode: _Episode, primary: str) -> dict[tuple, list[ScorePoint]]:
    """The canary scores of one promotion from the type's primary judge, per stream."""
    streams: dict[tuple, list[ScorePoint]] = defaultdict(list)
    for p in score_series(
        log,
        after_demotion=False,
        source="canary",
        model=episode.model,
        task_type=episode.task_type,
        since=episode.promoted_at,
    ):
        within = episode.ended_at is None or p.ts <= episode.ended_at
        if p.judge_kind == primary and p.excluded is None and within:
            streams[p.stream].append(p)
    return streams


def canary_paths(log: ScoreLog, config: TenureConfig) -> list[CanaryPath]:
    """The drift test replayed over every promotion's canaries, from promotion to demotion (or now)."""
    paths = []
    with log.reading() as reader:
        known = calibrations(reader)
        for episode in _episodes(reader):
            try:
                primary = primary_judge_kind(episode.task_type)
            except TaskError:
                continue
            for (_, _, judge, version, _), points in _canary_streams(reader, episode, primary).items():
                calibration = known.get((judge, version, episode.task_type))
                detector = drift_detector(
                    config, episode.task_type, calibration if reads_passes(primary) else None
                )
                at = list(range(1, len(points) + 1))
                totals, means = _running(_values(points), at)
                fires = next(
                    (n for t, n in zip(totals, at, strict=True) if detector.assess(t, n).action == "demote"),
                    None,
                )
                paths.append(
                    CanaryPath(
                        episode.model,
                        episode.task_type,
                        judge,
                        episode.promoted_at,
                        episode.ended_at,
                        episode.ended_by,
                        at,
                        means,
                        detector.bar,
                        fires,
                    )
                )
    return paths


@dataclass(frozen=True)
class JudgeTrust:
    """How far each judge can be trusted, per task type."""

    calibrations: list[CalibrationRow]
    """The latest calibration of each judge × prompt version × type (``tenure judge calibrate``)."""
    human: list[CalibrationRow] = field(default_factory=list)
    """Judge–human agreement over the labels people gave (``tenure review``), measured the same way."""
    kappa_floor: float = 0.6


def judge_trust(log: ScoreLog, config: TenureConfig) -> JudgeTrust:
    from tenure.control.calibration import human_agreement  # loads the judges (pydantic-ai): only here

    with log.reading() as reader:
        rows, labels = reader.calibrations(), reader.human_labels()
    return JudgeTrust(rows, human_agreement(labels), config.judge.kappa_floor)


def providers(log: ScoreLog, since: datetime | None = None) -> list[ProviderAttempts]:
    """Per provider: attempts, how often the chain fell back past it, and its latency."""
    return provider_attempts(log, since)


def spend(log: ScoreLog, since: datetime = BEGINNING) -> list[Day]:
    """Spend (runs, judging) and savings per day since ``since``."""
    return by_day(log, since)
