"""A seeded score log with a month of history, for the analysis tests (and anyone who wants a notebook
with something in it: ``python -m tests.analysis.sample_log HOME``).

What it holds, over the 30 days before ``now``:

- live ground truth for classify, extract and summarize from Opus, some of it served by Sonnet or
  GPT-4.1 after a fallback (call records with their attempts and latencies);
- classify: qwen shadowed, promoted on day -20, its canaries drifting, demoted by the drift test on day
  -10, shadowed again since; gemma shadowed and rejected;
- extract: qwen shadowed, promoted on day -8 and serving since, its canaries holding;
- summarize: gemma judged by a calibrated Opus judge (and the heuristic judge, shown only), with judge
  spend, a judge failure and people's labels;
- calibrations of the Opus judge and the heuristic judge; agent turns.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tenure.models.result import Attempt, CallResult
from tenure.store import CalibrationRow, EventRow, HumanLabelRow, RunRow, ScoreLog, ScoreRow

__all__ = ["GEMMA", "OPUS", "QWEN", "Sample", "write_sample_log"]

OPUS, SONNET, GPT = "anthropic:claude-opus-4-6", "anthropic:claude-sonnet-4-6", "openai:gpt-4.1"
QWEN, GEMMA = "ollama:qwen2.5:latest", "local:gemma-3-270m"
JUDGE = f"llm:{OPUS}"
PROMPT = "v1"
LATENCY = {"anthropic": 1800.0, "openai": 1100.0, "ollama": 700.0, "local": 2600.0}


def _value(rng: random.Random, judge: str, good: bool) -> float:
    """A deterministic judge's score of a good or a bad answer."""
    if judge == "label_match":
        return 1.0 if good else 0.0
    if good:
        return 1.0 if rng.random() < 0.8 else rng.uniform(0.9, 1.0)
    return rng.uniform(0.3, 0.8)


def _after(run: RunRow, **delta: float) -> datetime:
    assert run.ts is not None
    return run.ts + timedelta(**delta)


def _record(rng: random.Random, chain: list[str], served_at: int) -> dict:
    """The call record of a call that fell back past ``chain[:served_at]`` to ``chain[served_at]``."""
    attempts = []
    for i, model in enumerate(chain[: served_at + 1]):
        latency = rng.lognormvariate(0, 0.35) * LATENCY[model.split(":")[0]]
        if i < served_at:
            why = {"error": "ModelOverloadedError", "status": 529, "reason": "overloaded"}
            attempts.append(Attempt(model=model, outcome="fell_back", latency_ms=latency / 4, **why))
        else:
            attempts.append(Attempt(model=model, outcome="ok", latency_ms=latency, output_tokens=60))
    result = CallResult(
        requested=chain[0],
        served_by=chain[served_at],
        attempts=attempts,
        latency_ms=sum(a.latency_ms for a in attempts),
    )
    return result.model_dump(mode="json", exclude={"output"})


@dataclass
class Sample:
    """The rows, and what a test may check them against."""

    now: datetime
    rng: random.Random
    runs: list[RunRow] = field(default_factory=list)
    scores: list[ScoreRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    calibrations: list[CalibrationRow] = field(default_factory=list)
    labels: list[HumanLabelRow] = field(default_factory=list)

    def at(self, day: float) -> datetime:
        """A moment near ``day`` (days from now, negative: before), within half an hour."""
        return self.now + timedelta(days=day, minutes=self.rng.uniform(-30, 30))

    def run(self, task_type: str, role: str, source: str, model: str, ts: datetime, **kw: Any) -> RunRow:
        chain = [OPUS, SONNET, GPT] if model == OPUS else [model]
        served_at = 0
        if model == OPUS:
            served_at = 2 if self.rng.random() < 0.04 else 1 if self.rng.random() < 0.12 else 0
        record = _record(self.rng, chain, served_at)
        cost = (
            {0: 0.012, 1: 0.004, 2: 0.003}[served_at] * self.rng.uniform(0.7, 1.3) if model == OPUS else 0.0
        )
        row = RunRow(
            task_id=kw.pop("task_id", f"{task_type}-{len(self.runs)}"),
            task_type=task_type,
            role=role,
            source=source,
            model=model,
            served_by=record["served_by"],
            ts=ts,
            record=record,
            cost_usd=cost,
            latency_ms=record["latency_ms"],
            **kw,
        )
        self.runs.append(row)
        return row

    def score(self, run: RunRow, judge: str, kind: str, value: float | None, source: str, usd: float = 0.0):
        assert run.model is not None
        row = ScoreRow(
            run_id=run.run_id,
            gt_run_id=run.gt_run_id,
            task_id=run.task_id,
            task_type=run.task_type,
            candidate=run.model,
            judge=judge,
            judge_kind=kind,
            score=value,
            passed=None if value is None else value >= 0.5,
            status="ok" if value is not None else "judge_failed",
            source=source,
            cost_usd=usd,
            ground_truth=OPUS,
            prompt_version=PROMPT if kind == "llm" else None,
            ts=_after(run, seconds=30),
        )
        self.scores.append(row)
        return row

    def shadow(self, model: str, task_type: str, day: float) -> RunRow:
        """A live ground-truth answer and ``model``'s shadow of it."""
        gt = self.run(task_type, "ground_truth", "live", OPUS, self.at(day))
        return self.run(
            task_type,
            "candidate",
            "live",
            model,
            _after(gt, minutes=5),
            gt_run_id=gt.run_id,
            task_id=gt.task_id,
        )

    def shadows(self, model: str, task_type: str, days: tuple[float, float], count: int, quality: float):
        judge = {"classify": "label_match", "extract": "field_f1"}[task_type]
        for i in range(count):
            shadow = self.shadow(model, task_type, days[0] + (days[1] - days[0]) * i / count)
            self.score(
                shadow, judge, "deterministic", _value(self.rng, judge, self.rng.random() < quality), "live"
            )

    def promoted(
        self,
        model: str,
        task_type: str,
        days: tuple[float, float],
        answers: int,
        canaries: int,
        quality: float,
    ) -> None:
        """``model`` serving ``task_type``: its answers, and its canaries checked against Opus."""
        judge = {"classify": "label_match", "extract": "field_f1"}[task_type]
        for i in range(answers):
            self.run(
                task_type, "promoted", "live", model, self.at(days[0] + (days[1] - days[0]) * i / answers)
            )
        for i in range(canaries):
            check = self.run(
                task_type,
                "ground_truth",
                "canary",
                OPUS,
                self.at(days[0] + (days[1] - days[0]) * (i + 0.5) / canaries),
            )
            canary = self.run(task_type, "canary", "live", model, _after(check, minutes=1))
            self.score(
                canary, judge, "deterministic", _value(self.rng, judge, self.rng.random() < quality), "canary"
            )

    def event(self, task_type: str, model: str, action: str, actor: str, day: float, **evidence: Any) -> None:
        self.events.append(
            EventRow(
                task_type=task_type,
                model=model,
                action=action,
                actor=actor,
                reason=f"{action} by {actor}",
                evidence=evidence,
                ts=self.now + timedelta(days=day),
            )
        )

    def calibration(self, judge: str, task_type: str, kappa: float, false_pass: float) -> None:
        self.calibrations.append(
            CalibrationRow(
                judge=judge,
                prompt_version=PROMPT if judge.startswith("llm:") else None,
                task_type=task_type,
                n=40,
                agreement=0.5 + kappa / 2.2,
                kappa=kappa,
                kappa_low=kappa - 0.15,
                kappa_high=min(1.0, kappa + 0.12),
                false_pass=false_pass,
                false_pass_low=max(0.0, false_pass - 0.06),
                false_pass_high=false_pass + 0.1,
                false_fail=0.08,
                false_fail_low=0.03,
                false_fail_high=0.2,
                source="judge_set",
                ts=self.now - timedelta(days=25),
            )
        )


def write_sample_log(home: Path, seed: int = 15, now: datetime | None = None) -> Sample:
    """Write the sample log under ``home``'s store; returns its rows."""
    s = Sample(now=(now or datetime.now(UTC)).replace(microsecond=0), rng=random.Random(seed))
    # classify: qwen promoted on day -20, drifts, is demoted on day -10, shadowed again since
    s.shadows(QWEN, "classify", (-30, -20.2), 160, 0.99)
    s.shadows(GEMMA, "classify", (-30, -15.2), 60, 0.6)
    s.event("classify", QWEN, "promote", "gate", -20, n=160, policy="sequential")
    s.event("classify", GEMMA, "reject", "gate", -15, n=60, policy="sequential")
    s.promoted(QWEN, "classify", (-19.9, -10.1), 220, 40, 0.78)
    s.event("classify", QWEN, "demote", "drift", -10, policy="drift", params={"bar": 0.95, "error": 0.05})
    s.shadows(QWEN, "classify", (-9.9, -0.1), 70, 0.97)
    # extract: qwen promoted on day -8 and serving since
    s.shadows(QWEN, "extract", (-30, -8.2), 200, 0.97)
    s.event("extract", QWEN, "promote", "gate", -8, n=200, policy="sequential")
    s.promoted(QWEN, "extract", (-7.9, -0.1), 180, 30, 0.99)
    # summarize: gemma under the calibrated Opus judge (and the heuristic one, shown only)
    for i in range(90):
        shadow = s.shadow(GEMMA, "summarize", -30 + 30 * i / 90)
        passed = s.rng.random() < 0.7
        value = s.rng.uniform(0.7, 1.0) if passed else s.rng.uniform(0.0, 0.45)
        verdict = s.score(shadow, JUDGE, "llm", value, "live", usd=0.004)
        s.score(shadow, "heuristic:minilm", "heuristic", s.rng.uniform(0.5, 1.0), "live")
        if i % 6 == 0:
            agrees = s.rng.random() < 0.85
            s.labels.append(
                HumanLabelRow(
                    score_id=verdict.score_id,
                    task_type="summarize",
                    candidate=GEMMA,
                    judge=JUDGE,
                    prompt_version=PROMPT,
                    judge_passed=verdict.passed,
                    label="pass" if agrees == passed else "fail",
                    reviewer="me",
                    ts=verdict.ts,
                )
            )
    s.score(s.shadow(GEMMA, "summarize", -1), JUDGE, "llm", None, "live", usd=0.004)  # a judge failure
    for judge, task_type, kappa, false_pass in (
        (JUDGE, "summarize", 0.78, 0.06),
        (JUDGE, "analyze", 0.72, 0.09),
        (JUDGE, "rag_synthesis", 0.55, 0.18),
        ("heuristic:minilm", "summarize", 0.14, 0.5),
        ("heuristic:minilm", "analyze", 0.43, 0.33),
    ):
        s.calibration(judge, task_type, kappa, false_pass)
    for day in range(-30, 0, 3):
        turn = RunRow(
            task_id=f"turn{day}",
            task_type="agent_turn",
            role="loki",
            source="turn",
            model="agent:loki",
            served_by=OPUS,
            cost_usd=0.05,
            latency_ms=4000.0,
            record={"served_by": [OPUS]},
            ts=s.at(day),
        )
        s.runs.append(turn)
    log = ScoreLog.for_home(home)
    log.append("runs", s.runs)
    log.append("scores", s.scores)
    log.append("events", s.events)
    log.append("judge_calibrations", s.calibrations)
    log.append("human_labels", s.labels)
    return s


if __name__ == "__main__":
    sample = write_sample_log(Path(sys.argv[1]))
    print(
        f"{len(sample.runs)} runs, {len(sample.scores)} scores, {len(sample.events)} events in {sys.argv[1]}"
    )
