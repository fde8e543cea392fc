"""The promotion gates in simulation: the original fixed rule against the anytime-valid sequential test.

Run from the repository root::

    .venv/bin/python bench/gate.py [--reps N] [--horizon N] [--seed N] [--markdown]

Every row runs both policies on the same seeded score streams (``--reps`` replications, default 2,000),
scores drawn Bernoulli and from a Beta distribution with the stated mean (concentration 20), the gate
checked after every judged run up to ``--horizon`` runs (default 2,000). The gates are driven through
their public API (``make_gate(...).start().update(score)``), exactly as the flows use them. Nothing
fails on a missed target: the table says whether each was met.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/gate.py` puts bench/, not the repo root, on sys.path
    sys.path.insert(0, str(ROOT))

LIBRARIES = ("numpy",)

from bench.report import Row, context_line, mark, positive, show  # noqa: E402
from tenure.control.gates import (  # noqa: E402
    JudgeError,
    SequentialGate,
    corrected,
    make_drift_detector,
    make_gate,
    observed_pass_rate,
)

BAR, MARGIN, ERROR = 0.95, 0.02, 0.05
WINDOW = 50
"""The fixed rule has no drift test; its canary baseline is a rolling mean of the last 50 canary runs."""
CONCENTRATION = 20.0


def streams(
    mean: float, kind: str, reps: int, horizon: int, rng: np.random.Generator
) -> Iterator[list[float]]:
    """``reps`` score streams of length ``horizon`` with the given true mean."""
    for _ in range(reps):
        if kind == "bernoulli":
            yield (rng.random(horizon) < mean).astype(float).tolist()
        else:
            yield rng.beta(mean * CONCENTRATION, (1 - mean) * CONCENTRATION, horizon).tolist()


def first(make_state: Callable[[], Any], scores: list[float], action: str) -> int | None:
    """The run at which the state first says ``action`` (None if never, or if it decided otherwise)."""
    state = make_state()
    for n, score in enumerate(scores, start=1):
        decided = state.update(score).action
        if decided != "continue":
            return n if decided == action else None
    return None


class RollingMean:
    """The naive canary baseline: demote when the mean of the last ``WINDOW`` runs drops below the bar."""

    def __init__(self) -> None:
        self.window: list[float] = []

    def update(self, score: float) -> Any:
        self.window = [*self.window[-(WINDOW - 1) :], score]
        low = len(self.window) == WINDOW and sum(self.window) / WINDOW < BAR
        return SimpleNamespace(action="demote" if low else "continue")


POLICIES: dict[str, Callable[[], Any]] = {
    "fixed": make_gate("fixed", min_runs=200, min_mean=BAR).start,
    "sequential": make_gate("sequential", bar=BAR, margin=MARGIN, error=ERROR).start,
}
DRIFT: dict[str, Callable[[], Any]] = {
    "fixed": RollingMean,
    "sequential": make_drift_detector(bar=BAR, error=ERROR).start,
}


def hits(policies: dict[str, Callable[[], Any]], mean: float, kind: str, action: str, args: Any) -> dict:
    """Per policy, the run of the first ``action`` for each replication (same streams for both)."""
    out: dict[str, list[int | None]] = {name: [] for name in policies}
    rng = np.random.default_rng([args.seed, zlib.crc32(f"{mean}/{kind}/{action}".encode())])
    for scores in streams(mean, kind, args.reps, args.horizon, rng):
        for name, make in policies.items():
            out[name].append(first(make, scores, action))
    return out


def _median_p90(found: list[int | None]) -> tuple[float | None, float | None]:
    runs = sorted(r for r in found if r is not None)
    if not runs:
        return None, None
    return statistics.median(runs), runs[min(len(runs) - 1, int(0.9 * len(runs)))]


def _fmt(value: float | None) -> str:
    return "never" if value is None else f"{value:.0f}"


def run_rows(args: Any) -> list[Row]:
    rows: list[Row] = []
    for kind in ("bernoulli", "beta"):
        for mean in (0.99, 0.97):
            got = hits(POLICIES, mean, kind, "promote", args)
            cells = {p: _median_p90(v) for p, v in got.items()}
            seq_median = cells["sequential"][0]
            target = mean == 0.99
            rows.append(
                Row(
                    f"runs to promote, mean {mean} ({kind})",
                    " · ".join(f"{p} median {_fmt(m)} / p90 {_fmt(q)}" for p, (m, q) in cells.items()),
                    f"{mark(seq_median is not None and seq_median <= 100)} ≤ 100 median" if target else "",
                    f"promoted at all: fixed {sum(r is not None for r in got['fixed']) / args.reps:.1%}, "
                    f"sequential {sum(r is not None for r in got['sequential']) / args.reps:.1%}",
                )
            )
        for mean in (0.93, 0.94):
            got = hits(POLICIES, mean, kind, "promote", args)
            rates = {p: sum(r is not None for r in v) / args.reps for p, v in got.items()}
            rows.append(
                Row(
                    f"false promotions, mean {mean} ({kind})",
                    " · ".join(f"{p} {rate:.1%}" for p, rate in rates.items()),
                    f"{mark(rates['sequential'] <= ERROR)} ≤ {ERROR:.0%}" if mean == 0.93 else "",
                    f"share of {args.reps:,} models below the bar promoted within {args.horizon:,} runs",
                )
            )
        got = hits(POLICIES, 0.85, kind, "reject", args)
        rejected = [r for r in got["sequential"] if r is not None]
        median_runs = _fmt(statistics.median(rejected)) if rejected else "never"
        rows.append(
            Row(
                f"rejected, mean 0.85 ({kind})",
                f"fixed never rejects · sequential {len(rejected) / args.reps:.1%}, median {median_runs}",
                "",
                "a rejected candidate is no longer shadowed for the type (no ground-truth or judge calls)",
            )
        )
        dropped = hits(DRIFT, 0.85, kind, "demote", args)
        cells = {p: _median_p90(v) for p, v in dropped.items()}
        seq_median = cells["sequential"][0]
        rows.append(
            Row(
                f"canary runs to demote, 0.98 → 0.85 ({kind})",
                " · ".join(f"{p} median {_fmt(m)} / p90 {_fmt(q)}" for p, (m, q) in cells.items()),
                f"{mark(seq_median is not None and seq_median <= 60)} ≤ 60 median",
                f"quality drops at canary run 0; fixed = mean of the last {WINDOW} canary runs < {BAR}",
            )
        )
        steady = hits(DRIFT, 0.98, kind, "demote", args)
        rates = {p: sum(r is not None for r in v) / args.reps for p, v in steady.items()}
        rows.append(
            Row(
                f"false demotions, steady 0.98 ({kind})",
                " · ".join(f"{p} {rate:.1%}" for p, rate in rates.items()),
                f"{mark(rates['sequential'] <= ERROR)} ≤ {ERROR:.0%}",
                f"share of {args.reps:,} steady models demoted within {args.horizon:,} canary runs",
            )
        )
    return rows + judge_rows(args)


JUDGE_FALSE_PASS = (0.05, 0.10)
"""False-pass rates of the simulated judge: it passes this share of truly failing answers (and fails
no truly passing one, the worst case for promotions)."""


def judge_rows(args: Any) -> list[Row]:
    """The sequential gate on an erring judge's pass/fail verdicts, as is and corrected for the judge's
    false passes (``tenure.control.gates.corrected``, with the rates known exactly)."""
    rows: list[Row] = []
    gate = SequentialGate(bar=BAR, margin=MARGIN, error=ERROR)
    for rate in JUDGE_FALSE_PASS:
        moved = corrected(gate, JudgeError(rate, rate, 0.0, 0.0))
        policies: dict[str, Callable[[], Any]] = {"uncorrected": gate.start, "corrected": moved.start}
        null = round(BAR - MARGIN, 6)
        got = hits(policies, observed_pass_rate(null, rate, 0.0), "bernoulli", "promote", args)
        rates = {p: sum(r is not None for r in v) / args.reps for p, v in got.items()}
        noise = 3 * math.sqrt(ERROR * (1 - ERROR) / args.reps)  # 3 standard errors of a 5% share
        rows.append(
            Row(
                f"judge false pass {rate:.0%}: false promotions, true mean {null}",
                " · ".join(f"{p} {share:.1%}" for p, share in rates.items()),
                f"{mark(rates['corrected'] <= ERROR + noise)} corrected ≤ {ERROR:.0%} (± {noise:.1%}, 3 SE)",
                f"the judge passes {observed_pass_rate(null, rate, 0.0):.4f} of this model's answers; the "
                f"corrected gate's promotion null is {moved.bar - moved.margin:.4f} instead of {null}",
            )
        )
        got = hits(policies, observed_pass_rate(0.99, rate, 0.0), "bernoulli", "promote", args)
        cells = {p: _median_p90(v) for p, v in got.items()}
        rows.append(
            Row(
                f"judge false pass {rate:.0%}: runs to promote, true mean 0.99",
                " · ".join(f"{p} median {_fmt(m)} / p90 {_fmt(q)}" for p, (m, q) in cells.items()),
                "",
                "what the correction costs a good model: more judged runs before it is promoted",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--reps", type=positive, default=2000, help="replications per row")
    parser.add_argument("--horizon", type=positive, default=2000, help="judged runs per replication")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = parser.parse_args()
    started, load = time.perf_counter(), os.getloadavg()[0]
    rows = run_rows(args)
    context = (
        f"{context_line(load, LIBRARIES)} · bar {BAR}, margin {MARGIN}, error {ERROR}; fixed: min_runs 200, "
        f"min_mean {BAR} · {args.reps:,} replications × up to {args.horizon:,} runs, seed {args.seed} · "
        f"total bench time {time.perf_counter() - started:.0f} s"
    )
    show(rows, context, "tenure promotion gates: fixed vs sequential", args.markdown)


if __name__ == "__main__":
    main()
