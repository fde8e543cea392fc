"""Promotion gates and the canary drift detector: pure, incremental, usable without Prefect or storage.

Two policies, chosen per task type:

``fixed`` (the production rule this grows from): promote once ``n >= min_runs`` and the running mean
``>= min_mean``. Kept for comparison and for users who want it. It ignores uncertainty, and checked
after every run it promotes models below the bar far more often than its threshold suggests.

``sequential`` (the default): an anytime-valid test on bounded scores in [0, 1].

Method. For scores ``X_i`` in [0, 1] and a reference mean ``m0``, the Bernoulli likelihood ratio
``prod (m1/m0)^X_i ((1-m1)/(1-m0))^(1-X_i)`` is a nonnegative supermartingale whenever the true mean is
at most ``m0`` and ``m1 > m0`` (by convexity of ``x -> a^x b^(1-x)``, its one-step expectation is at most
``mu a + (1-mu) b <= 1``), and likewise when the mean is at least ``m0`` and ``m1 < m0``. A weighted
mixture of such ratios over several alternatives ``m1`` is still one. By Ville's inequality such a
process ever reaches ``1/error`` with probability at most ``error``, however often it is checked. So:

- *promote* when the mixture against ``m0 = bar - margin`` (alternatives above it) reaches ``1/error``:
  a model whose true mean is at or below ``bar - margin`` is promoted with probability at most ``error``;
- *reject* when the mixture against ``m0 = bar`` (alternatives below it) reaches ``1/error``: a model at
  or above the bar is rejected with probability at most ``error``;
- the drift detector after promotion is the same downward test against the bar, restarted at
  promotion: a model that stays at or above the bar is demoted with probability at most ``error``.

The reported ``bound`` is the anytime-valid lower confidence bound of the same construction (the
largest ``m0`` the upward mixture rejects), never above the running mean.

Assumptions: scores are bounded in [0, 1] and, given the past, each run's expected score is at most
(resp. at least) the null mean: i.i.d. scores of a fixed model on a stationary task stream satisfy
this; a judge whose scores drift, or tasks chosen by looking at earlier scores, do not.

A judge that errs. An LLM judge's verdicts are pass/fail with a false-pass rate α (it passes an answer a
person would fail) and a false-fail rate β, measured on labelled pairs (``tenure judge calibrate``). A
model whose answers truly pass at rate t is passed by such a judge at the rate p = t(1 − β) + (1 − t)α
(the relation behind the Rogan–Gladen estimator). ``corrected`` moves a gate onto the judge's scale:
the promotion null becomes the highest pass rate a model at ``bar - margin`` can show (α at the top,
β at the bottom of their 95% intervals), and the bar the lowest a model at ``bar`` can show, so both of
the gate's guarantees hold for the true rate, given that the judge's error rates on live tasks are
within the calibration's intervals (same kind of tasks; errors independent of which model answered).
A judge with α = 10% moves a 0.93 null to about 0.94: a model at 0.93 no longer passes for a promotable
one, and a good model needs more runs (``bench/gate.py``).

Reference: Waudby-Smith & Ramdas, "Estimating means of bounded random variables by betting", JRSS-B
86(1), 2024; Rogan & Gladen, "Estimating prevalence from the results of a screening test", American
Journal of Epidemiology 107(1), 1978; Ramdas et al., "Game-theoretic statistics and safe anytime-valid
inference", Statistical Science 38(4), 2023. The mixture of likelihood ratios is a betting martingale
with fixed bets.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal, overload

__all__ = [
    "Decision",
    "DriftDetector",
    "FixedGate",
    "GateState",
    "JudgeError",
    "SequentialGate",
    "corrected",
    "corrected_drift",
    "gate_from_settings",
    "make_drift_detector",
    "make_gate",
    "observed_pass_rate",
]

Action = Literal["promote", "continue", "reject", "demote"]

UP_FRACTIONS = (4 / 7, 6 / 7)
"""Upward alternatives, as fractions of the way from the null mean to 1 (0.97 and 0.99 for a 0.93 null)."""
DOWN_STEPS = (1.0, 2.0, 5.0)
"""Downward alternatives, in multiples of ``1 - bar`` below the bar (0.90, 0.85 and 0.70 for a 0.95 bar)."""


@dataclass(frozen=True)
class Decision:
    """What the gate says after a score, and the evidence it says it on."""

    action: Action
    n: int
    mean: float
    policy: str
    params: dict[str, float] = field(default_factory=dict)
    _bound: Callable[[], float | None] = field(default=lambda: None, repr=False, compare=False)

    @cached_property
    def bound(self) -> float | None:
        """Anytime-valid lower confidence bound on the true mean (``None`` where the policy has none).

        Computed on first access: the gate decides without it, so a simulation of millions of runs
        does not pay for it."""
        return self._bound()


def _check(name: str, value: float, low: float, high: float, *, closed: str = "") -> float:
    """``value`` in the interval (low, high), with ``closed`` naming the ends that are included."""
    value = float(value)
    above = value >= low if "low" in closed else value > low
    below = value <= high if "high" in closed else value < high
    if math.isnan(value) or not (above and below):
        interval = f"{'[' if 'low' in closed else '('}{low:g}, {high:g}{']' if 'high' in closed else ')'}"
        raise ValueError(f"{name} must be in {interval}; got {value:g}")
    return value


def _check_score(score: float) -> float:
    score = float(score)
    if not 0.0 <= score <= 1.0 or math.isnan(score):
        raise ValueError(f"scores must be in [0, 1]; got {score!r}")
    return score


def _coefficients(null: float, alternatives: tuple[float, ...]) -> tuple[tuple[float, float], ...]:
    """Per alternative: the log-ratio for a score of 1 and for a score of 0."""
    return tuple((math.log(a / null), math.log((1 - a) / (1 - null))) for a in alternatives)


def _log_mixture(total: float, n: int, coefficients: tuple[tuple[float, float], ...]) -> float:
    """log of the equal-weight mixture of Bernoulli likelihood ratios after n scores summing to total."""
    logs = [total * up + (n - total) * down for up, down in coefficients]
    top = max(logs)
    return top + math.log(sum(math.exp(v - top) for v in logs) / len(logs))


def _up(null: float) -> tuple[float, ...]:
    return tuple(null + (1 - null) * f for f in UP_FRACTIONS)


def _down(bar: float) -> tuple[float, ...]:
    return tuple(max(bar - (1 - bar) * k, bar / 100) for k in DOWN_STEPS)


@dataclass
class _Running:
    n: int = 0
    total: float = 0.0

    def add(self, score: float) -> None:
        self.n += 1
        self.total += _check_score(score)

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0


@dataclass(frozen=True)
class FixedGate:
    """The original rule: ``min_runs`` judged runs and a mean of at least ``min_mean``."""

    min_runs: int = 200
    min_mean: float = 0.95
    name: str = "fixed"

    def __post_init__(self) -> None:
        if int(self.min_runs) != self.min_runs or self.min_runs < 1:
            raise ValueError(f"min_runs must be a whole number of at least 1; got {self.min_runs!r}")
        _check("min_mean", self.min_mean, 0.0, 1.0, closed="high")

    @property
    def params(self) -> dict[str, float]:
        return {"min_runs": self.min_runs, "min_mean": self.min_mean}

    def start(self) -> GateState:
        return GateState(self)

    def assess(self, total: float, n: int) -> Decision:
        """The rule applied to a model's ``n`` scores summing to ``total``."""
        mean = total / n if n else 0.0
        action: Action = "promote" if n >= self.min_runs and mean >= self.min_mean else "continue"
        return Decision(action, n, mean, "fixed", self.params)

    def runs_needed(self, total: float, n: int) -> int | None:
        """Runs until ``min_runs`` if the mean clears ``min_mean``, else None."""
        return max(0, self.min_runs - n) if n and total / n >= self.min_mean else None


@dataclass
class GateState:
    """One model × task type under a gate: add each judged score, read the decision."""

    gate: FixedGate | SequentialGate | DriftDetector
    running: _Running = field(default_factory=_Running)
    decided: Action | None = None

    def update(self, score: float) -> Decision:
        """Add a score; decisions are final: once a gate has promoted or rejected, it keeps saying so."""
        self.running.add(score)
        decision = self.gate.assess(self.running.total, self.running.n)
        if self.decided is None:
            if decision.action != "continue":
                self.decided = decision.action
            return decision
        return replace(decision, action=self.decided)


@dataclass(frozen=True)
class SequentialGate:
    """Anytime-valid promote / continue / reject (see the module docstring for the method).

    The promotion null is ``bar - margin`` and the rejection null ``bar``. A configured gate has a margin
    in [0, bar); a gate ``corrected`` for a judge's errors may have a negative one (its promotion null
    above its rejection null), which leaves a band where neither test can decide."""

    bar: float = 0.95
    margin: float = 0.02
    error: float = 0.05
    name: str = "sequential"

    def __post_init__(self) -> None:
        _check("bar", self.bar, 0.0, 1.0)
        _check("the promotion null (bar - margin)", self.bar - self.margin, 0.0, 1.0)
        _check("error", self.error, 0.0, 1.0)

    @property
    def params(self) -> dict[str, float]:
        return {"bar": self.bar, "margin": self.margin, "error": self.error}

    @property
    def threshold(self) -> float:
        return math.log(1 / self.error)

    @cached_property
    def promote_test(self) -> tuple[tuple[float, float], ...]:
        null = self.bar - self.margin
        return _coefficients(null, _up(null))

    @cached_property
    def reject_test(self) -> tuple[tuple[float, float], ...]:
        return _coefficients(self.bar, _down(self.bar))

    def start(self) -> GateState:
        return GateState(self)

    def assess(self, total: float, n: int) -> Decision:
        """The test applied to a model's ``n`` scores summing to ``total`` (sufficient statistics)."""
        action: Action = "continue"
        if n and _log_mixture(total, n, self.promote_test) >= self.threshold:
            action = "promote"
        elif n and _log_mixture(total, n, self.reject_test) >= self.threshold:
            action = "reject"
        mean = total / n if n else 0.0
        return Decision(action, n, mean, "sequential", self.params, lambda: self.lower_bound(total, n))

    def runs_needed(self, total: float, n: int) -> int | None:
        """Rough further runs to promotion if the mean holds (0 if it would promote now; None if the mean
        is not heading there)."""
        null, mean = self.bar - self.margin, total / n if n else 0.0
        if n == 0 or mean <= null:
            return None
        gap = self.threshold - _log_mixture(total, n, self.promote_test)
        if gap <= 0:
            return 0
        drift = max(mean * up + (1 - mean) * down for up, down in self.promote_test)
        return math.ceil(gap / drift) if drift > 0 else None

    def lower_bound(self, total: float, n: int) -> float:
        """The largest null mean the upward mixture rejects (bisection on [0, mean]); 0 if none."""
        mean = total / n if n else 0.0
        if n == 0 or _log_mixture(total, n, _coefficients(1e-9, _up(1e-9))) < self.threshold:
            return 0.0
        low, high = 1e-9, mean
        for _ in range(40):
            mid = (low + high) / 2
            if _log_mixture(total, n, _coefficients(mid, _up(mid))) >= self.threshold:
                low = mid
            else:
                high = mid
        return low


@dataclass(frozen=True)
class DriftDetector:
    """After promotion: demote when the canary scores show, anytime-validly, a mean below the bar."""

    bar: float = 0.95
    error: float = 0.05

    def __post_init__(self) -> None:
        _check("bar", self.bar, 0.0, 1.0)
        _check("error", self.error, 0.0, 1.0)

    @cached_property
    def demote_test(self) -> tuple[tuple[float, float], ...]:
        return _coefficients(self.bar, _down(self.bar))

    def assess(self, total: float, n: int) -> Decision:
        """The test applied to ``n`` canary scores summing to ``total`` since promotion."""
        demote = n > 0 and _log_mixture(total, n, self.demote_test) >= math.log(1 / self.error)
        mean = total / n if n else 0.0
        return Decision(
            "demote" if demote else "continue", n, mean, "drift", {"bar": self.bar, "error": self.error}
        )

    def start(self) -> GateState:
        return GateState(self)


def make_gate(policy: str = "sequential", **params: Any) -> FixedGate | SequentialGate:
    """``make_gate("sequential", bar=0.95, margin=0.02, error=0.05)`` or ``make_gate("fixed", min_runs=200,
    min_mean=0.95)``; unknown policies or parameters are refused with the accepted ones named."""
    policies: dict[str, type[FixedGate] | type[SequentialGate]] = {
        "fixed": FixedGate,
        "sequential": SequentialGate,
    }
    if policy not in policies:
        raise ValueError(f"unknown gate policy '{policy}'; expected one of {', '.join(policies)}")
    cls = policies[policy]
    allowed = [f for f in cls.__dataclass_fields__ if f != "name"]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(
            f"{policy} gate: unknown parameter(s) {', '.join(unknown)}; expected {', '.join(allowed)}"
        )
    if policy == "sequential":
        bar = _check("bar", params.get("bar", SequentialGate.bar), 0.0, 1.0)
        _check("margin", params.get("margin", SequentialGate.margin), 0.0, bar, closed="low")
    return cls(**params)


def make_drift_detector(bar: float = 0.95, error: float = 0.05) -> DriftDetector:
    """The canary's drift test: ``make_drift_detector(bar=0.95, error=0.05).start().update(score)``."""
    return DriftDetector(bar=bar, error=error)


def gate_from_settings(settings: Any) -> FixedGate | SequentialGate:
    """The gate a task type's ``[task_types.X.gate]`` settings describe."""
    if settings.policy == "fixed":
        return make_gate("fixed", min_runs=settings.min_runs, min_mean=settings.min_mean)
    return make_gate("sequential", bar=settings.bar, margin=settings.margin, error=settings.error)


@dataclass(frozen=True)
class JudgeError:
    """A judge's error rates on one task type with their 95% intervals, as a calibration measured them."""

    false_pass_low: float
    false_pass_high: float
    false_fail_low: float
    false_fail_high: float


def observed_pass_rate(true_rate: float, false_pass: float, false_fail: float) -> float:
    """The rate at which a judge with these error rates passes answers that truly pass at ``true_rate``."""
    return true_rate * (1 - false_fail) + (1 - true_rate) * false_pass


@overload
def corrected(gate: SequentialGate, error: JudgeError) -> SequentialGate: ...
@overload
def corrected(gate: FixedGate, error: JudgeError) -> FixedGate: ...
@overload
def corrected(gate: FixedGate | SequentialGate, error: JudgeError) -> FixedGate | SequentialGate: ...
def corrected(gate: FixedGate | SequentialGate, error: JudgeError) -> FixedGate | SequentialGate:
    """``gate`` on the judge's pass/fail scale: the promotion bar raised by what its false passes could
    add, the rejection bar lowered by what its false fails could take away (see the module docstring)."""
    if isinstance(gate, FixedGate):
        floor = observed_pass_rate(gate.min_mean, error.false_pass_high, error.false_fail_low)
        return FixedGate(min_runs=gate.min_runs, min_mean=min(1.0, floor))
    null = observed_pass_rate(gate.bar - gate.margin, error.false_pass_high, error.false_fail_low)
    bar = observed_pass_rate(gate.bar, error.false_pass_low, error.false_fail_high)
    return SequentialGate(bar=bar, margin=bar - null, error=gate.error)


def corrected_drift(detector: DriftDetector, error: JudgeError) -> DriftDetector:
    """The drift test on the judge's scale: demote below the lowest pass rate a model at the bar can show."""
    return DriftDetector(
        bar=observed_pass_rate(detector.bar, error.false_pass_low, error.false_fail_high),
        error=detector.error,
    )
