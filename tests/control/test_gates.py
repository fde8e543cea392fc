"""Gates: invariants as properties, the anytime guarantee as a seeded simulation, and clear errors."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenure.control.gates import SequentialGate, make_drift_detector, make_gate

scores = st.lists(st.floats(min_value=0.0, max_value=1.0, allow_nan=False), max_size=300)


def run(gate, xs):
    state = gate.start()
    return state, [state.update(x) for x in xs]


@settings(max_examples=200, deadline=None)
@given(scores, st.integers(min_value=1, max_value=40))
def test_adding_perfect_scores_never_turns_a_promotion_or_continue_into_a_rejection(xs, extra):
    gate = make_gate("sequential")
    _, before = run(gate, xs)
    _, after = run(gate, xs + [1.0] * extra)
    rank = {"reject": 0, "continue": 1, "promote": 2}
    last_before = before[-1].action if before else "continue"
    assert rank[after[-1].action] >= rank[last_before] or last_before == "reject"


@settings(max_examples=200, deadline=None)
@given(scores)
def test_the_bound_never_exceeds_the_running_mean(xs):
    _, decisions = run(make_gate("sequential"), xs)
    for d in decisions:
        assert d.bound is not None
        assert 0.0 <= d.bound <= d.mean + 1e-12


@settings(max_examples=100, deadline=None)
@given(scores)
def test_decisions_are_final_and_consistent_with_the_bound(xs):
    gate = make_gate("sequential")
    assert isinstance(gate, SequentialGate)
    _, decisions = run(gate, xs)
    seen = "continue"
    for d in decisions:
        if seen != "continue":
            assert d.action == seen  # a decision, once made, stands
        seen = d.action
        if d.action == "promote" and d.n == next(
            i + 1 for i, e in enumerate(decisions) if e.action == "promote"
        ):
            assert d.bound is not None
            assert d.bound >= gate.bar - gate.margin - 1e-6


@pytest.mark.parametrize(
    ("policy", "params", "message"),
    [
        ("sequential", {"bar": 1.5}, "bar must be in (0, 1); got 1.5"),
        ("sequential", {"margin": 0.99, "bar": 0.95}, "margin must be in [0, 0.95); got 0.99"),
        ("sequential", {"error": 0}, "error must be in (0, 1); got 0"),
        ("fixed", {"min_runs": 0}, "min_runs must be a whole number of at least 1; got 0"),
        ("fixed", {"min_mean": 1.2}, "min_mean must be in (0, 1]; got 1.2"),
        ("fixed", {"bar": 0.9}, "fixed gate: unknown parameter(s) bar; expected min_runs, min_mean"),
        ("bayesian", {}, "unknown gate policy 'bayesian'; expected one of fixed, sequential"),
    ],
)
def test_out_of_range_parameters_are_refused_clearly(policy, params, message):
    with pytest.raises(ValueError) as failure:
        make_gate(policy, **params)
    assert str(failure.value) == message


def test_scores_outside_zero_one_are_refused():
    with pytest.raises(ValueError, match=r"scores must be in \[0, 1\]; got 1.2"):
        make_gate("sequential").start().update(1.2)


def test_fixed_gate_is_the_original_rule():
    state = make_gate("fixed", min_runs=3, min_mean=0.9).start()
    assert [state.update(x).action for x in (1.0, 1.0, 0.6)] == ["continue", "continue", "continue"]
    assert state.update(1.0).action == "promote"  # 4 runs, mean 3.6 / 4 = 0.9
    assert state.update(0.0).action == "promote"  # a decision stands
    assert state.update(0.0).bound is None  # the fixed rule has no confidence bound


def test_false_promotion_at_the_boundary_stays_within_the_error_rate():
    """A model exactly at bar - margin, checked after every one of 1,000 runs, 2,000 times (seeded)."""
    rng = random.Random(20261125)
    gate = make_gate("sequential", bar=0.95, margin=0.02, error=0.05)
    promoted = 0
    for _ in range(2000):
        state = gate.start()
        for _ in range(1000):
            decision = state.update(1.0 if rng.random() < 0.93 else 0.0)
            if decision.action != "continue":
                promoted += decision.action == "promote"
                break
    rate = promoted / 2000
    assert rate <= 0.05 + 3 * (0.05 * 0.95 / 2000) ** 0.5  # within the error rate, allowing sampling noise


def test_drift_detector_demotes_a_collapsed_model_and_keeps_a_steady_one():
    rng = random.Random(7)
    detector = make_drift_detector(bar=0.95, error=0.05)
    bad, good = detector.start(), detector.start()
    bad_runs = next(
        i for i in range(1, 2000) if bad.update(1.0 if rng.random() < 0.6 else 0.0).action == "demote"
    )
    assert bad_runs < 60
    assert all(good.update(1.0).action == "continue" for _ in range(2000))
