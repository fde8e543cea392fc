"""The figures of the scores notebook and ``tenure report``: one function per figure, each taking what
``frames`` computed and returning a matplotlib ``Figure`` (no pyplot state: they draw the same in a
notebook, a script or a report). On an empty log each draws a "no data yet" figure saying what fills it.
The first paragraph of each docstring is the figure's caption in the report.
"""

from __future__ import annotations

from itertools import accumulate

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from tenure.analysis.frames import CanaryPath, GatePath, JudgeTrust
from tenure.control.costs import Day
from tenure.control.scoreboard import BoardRow
from tenure.store.analysis import ProviderAttempts

__all__ = ["canary", "gates", "judges", "providers", "scoreboard", "spend"]

WIDTH = 10.0
GREEN, RED, BLUE, GREY, ORANGE = "#2e7d32", "#c62828", "#1565c0", "#9e9e9e", "#ef6c00"
STATUS_COLOUR = {
    "promoted": GREEN, "promote": GREEN, "rejected": RED, "reject": RED, "demote": RED, "shown": GREY,
}  # fmt: skip


def _empty(title: str, hint: str) -> Figure:
    figure = Figure(figsize=(WIDTH, 2.2), layout="constrained")
    ax = figure.add_subplot()
    ax.set_axis_off()
    ax.set_title(title, loc="left")
    ax.text(0.5, 0.55, "no data yet", ha="center", va="center", fontsize=16, color=GREY)
    ax.text(0.5, 0.2, hint, ha="center", va="center", fontsize=10, color=GREY)
    return figure


def _grid(title: str, count: int, columns: int = 2, height: float = 3.0) -> tuple[Figure, list[Axes]]:
    columns = min(columns, count)
    rows = -(-count // columns)
    figure = Figure(figsize=(WIDTH, height * rows + 0.6), layout="constrained")
    figure.suptitle(title, x=0.01, ha="left")
    axes = figure.subplots(rows, columns, squeeze=False).flatten().tolist()
    for ax in axes[count:]:
        ax.set_axis_off()
    return figure, axes[:count]


def scoreboard(rows: list[BoardRow]) -> Figure:
    """The scoreboard: every score stream's mean (bar) and, where the gate reads it, its anytime-valid
    lower bound (black tick), coloured by status: green promoted, red rejected or demoted, blue still
    collecting or watched by the canary, grey shown only."""
    title = "Scoreboard: mean score per model × task type × judge"
    if not rows:
        return _empty(title, "run 'tenure eval --golden' or 'tenure demo' to score some models")
    figure = Figure(figsize=(WIDTH, 0.42 * len(rows) + 1.4), layout="constrained")
    ax = figure.add_subplot()
    labels = [
        f"{r.model}  {r.task_type} · {r.judge}" + (" (canary)" if r.use == "canary" else "") for r in rows
    ]
    y = list(range(len(rows)))[::-1]
    colours = [STATUS_COLOUR.get(r.status, BLUE) for r in rows]
    ax.barh(y, [r.mean for r in rows], color=colours, height=0.6)
    bounded = [(yy, r.bound) for yy, r in zip(y, rows, strict=True) if r.bound is not None]
    ax.scatter([b for _, b in bounded], [yy for yy, _ in bounded], marker="|", s=300, color="black", zorder=3)
    for yy, r in zip(y, rows, strict=True):
        ax.text(1.01, yy, f"n={r.n}  {r.status}", va="center", fontsize=8, transform=ax.get_yaxis_transform())
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("mean score (tick: the gate's lower bound)")
    ax.set_title(title, loc="left")
    return figure


def gates(paths: list[GatePath]) -> Figure:
    """The promotion gate, run by run: for each model × task type whose scores are evidence, the running
    mean and the gate's anytime-valid lower bound against the number of judged runs, with the bar and the
    promotion null (the gate promotes once the evidence rules out a mean at or below it). An LLM judge's
    pass rate is read against bars moved for its measured errors."""
    title = "Promotion gates: lower bound against judged runs"
    if not paths:
        return _empty(
            title, "no stream is gate evidence yet: shadow a candidate with its type's primary judge"
        )
    figure, axes = _grid(title, len(paths))
    for ax, p in zip(axes, paths, strict=True):
        ax.plot(p.n, p.mean, color=GREY, label="running " + ("pass rate" if p.reads == "passes" else "mean"))
        if p.bound:
            ax.plot(p.n, p.bound, color=BLUE, label="lower bound")
        for (name, value), style in zip(p.bars.items(), ("--", ":"), strict=False):
            ax.axhline(value, color=GREEN if name in ("bar", "min_mean") else ORANGE, ls=style,
                       label=f"{name} {value:.3g}")  # fmt: skip
        if p.min_runs is not None:
            ax.axvline(p.min_runs, color=GREEN, ls=":", label=f"min_runs {p.min_runs}")
        ax.set_ylim(max(0.0, min([*p.mean, *p.bound, *p.bars.values()]) - 0.05), 1.01)
        ax.set_title(f"{p.model} · {p.task_type}\n{p.judge}, {p.policy}: {p.decision}", fontsize=9)
        ax.set_xlabel("judged runs")
        ax.legend(fontsize=7, loc="lower right")
    return figure


def canary(paths: list[CanaryPath]) -> Figure:
    """Canary drift since promotion: for each promotion, the running mean of the promoted model's canary
    scores (checked against the ground truth) with the drift test's bar, and where the test fired."""
    title = "Canary drift since promotion"
    if not paths:
        return _empty(title, "no promoted model has canary scores yet")
    figure, axes = _grid(title, len(paths))
    for ax, p in zip(axes, paths, strict=True):
        ax.plot(p.n, p.mean, color=BLUE, marker="." if len(p.n) < 60 else None, label="running mean")
        ax.axhline(p.bar, color=GREEN, ls="--", label=f"bar {p.bar:.3g}")
        if p.fires_at is not None:
            ax.axvline(p.fires_at, color=RED, ls=":", label=f"drift test fires at {p.fires_at}")
        ended = "serving" if p.ended_at is None else f"ended {p.ended_at:%Y-%m-%d} ({p.ended_by})"
        ax.set_title(f"{p.model} · {p.task_type} ({p.judge})\npromoted {p.promoted_at:%Y-%m-%d}, {ended}",
                     fontsize=9)  # fmt: skip
        ax.set_ylim(max(0.0, min([*p.mean, p.bar]) - 0.05), 1.01)
        ax.set_xlabel("canary runs since promotion")
        ax.legend(fontsize=7, loc="lower left")
    return figure


def _intervals(ax: Axes, labels: list[str], values: list[float | None], lows: list, highs: list) -> None:
    y = list(range(len(labels)))[::-1]
    for yy, v, lo, hi in zip(y, values, lows, highs, strict=True):
        if v is None:
            ax.text(0.5, yy, "unmeasured", va="center", ha="center", fontsize=8, color=GREY)
            continue
        ax.plot([lo if lo is not None else v, hi if hi is not None else v], [yy, yy], color=BLUE, lw=2)
        ax.plot([v], [yy], "o", color=BLUE)
    ax.set_yticks(y, labels, fontsize=8)


def judges(trust: JudgeTrust) -> Figure:
    """Judge agreement and calibration: each judge's Cohen's κ with labelled verdicts per task type
    (the judge set, and people's labels from ``tenure review``) against ``judge.kappa_floor``, and its
    false-pass rate, the rate at which it lets a failing answer through; both with 95% intervals."""
    title = "Judges: agreement with labels (κ) and false passes"
    rows = [(r, "calibration") for r in trust.calibrations] + [(r, "people") for r in trust.human]
    if not rows:
        return _empty(title, "run 'tenure judge calibrate', and label pairs with 'tenure review'")
    figure = Figure(figsize=(WIDTH, 0.45 * len(rows) + 1.6), layout="constrained")
    left, right = figure.subplots(1, 2, sharey=True)
    labels = [f"{r.judge} · {r.task_type} ({source}, n={r.n})" for r, source in rows]
    _intervals(left, labels, [r.kappa for r, _ in rows], [r.kappa_low for r, _ in rows],
               [r.kappa_high for r, _ in rows])  # fmt: skip
    left.axvline(trust.kappa_floor, color=RED, ls="--", label=f"kappa_floor {trust.kappa_floor:g}")
    left.set_xlim(-0.2, 1.05)
    left.set_xlabel("Cohen's κ")
    left.legend(fontsize=7, loc="lower left")
    _intervals(right, labels, [r.false_pass for r, _ in rows], [r.false_pass_low for r, _ in rows],
               [r.false_pass_high for r, _ in rows])  # fmt: skip
    right.set_xlim(0, 1)
    right.set_xlabel("false-pass rate")
    figure.suptitle(title, x=0.01, ha="left")
    return figure


def providers(stats: list[ProviderAttempts]) -> Figure:
    """Fallbacks and latency by provider: the share of requests to each provider's models after which
    the chain fell back to its next model, and the median and 90th-percentile latency of those requests."""
    title = "Providers: fallback frequency and latency"
    if not stats:
        return _empty(title, "no model call has been recorded yet")
    figure = Figure(figsize=(WIDTH, 0.5 * len(stats) + 1.8), layout="constrained")
    left, right = figure.subplots(1, 2, sharey=True)
    y = list(range(len(stats)))[::-1]
    left.barh(y, [s.fallback_rate for s in stats], color=ORANGE, height=0.6)
    for yy, s in zip(y, stats, strict=True):
        left.text(s.fallback_rate, yy, f" {s.fell_back}/{s.attempts}", va="center", fontsize=8)
    left.set_yticks(y, [s.provider for s in stats])
    left.set_xlim(0, max(0.1, *(s.fallback_rate for s in stats)) * 1.3)
    left.set_xlabel("requests that fell back")
    p50 = [(s.latency_p50_ms or 0) / 1000 for s in stats]
    p90 = [(s.latency_p90_ms or 0) / 1000 for s in stats]
    right.barh([v + 0.15 for v in y], p50, height=0.3, color=BLUE, label="median")
    right.barh([v - 0.15 for v in y], p90, height=0.3, color=GREY, label="90th percentile")
    right.set_xlabel("latency per request (s)")
    right.legend(fontsize=7, loc="lower right")
    figure.suptitle(title, x=0.01, ha="left")
    return figure


def spend(days: list[Day]) -> Figure:
    """Spend and savings over time: what the runs and the judging cost each day (stacked bars) and what
    promotions have saved so far (line): every answer a promoted local model gave, priced at the ground
    truth's mean cost per task, less what the promotion cost (its runs, canary checks and their judging)."""
    title = "Spend and savings per day"
    if not days:
        return _empty(title, "no run has been recorded yet")
    figure = Figure(figsize=(WIDTH, 3.6), layout="constrained")
    ax = figure.add_subplot()
    x = np.array([d.day for d in days], dtype="datetime64[D]")
    runs, judging = [d.runs_usd for d in days], [d.judging_usd for d in days]
    ax.bar(x, runs, color=BLUE, label="runs")
    ax.bar(x, judging, bottom=runs, color=ORANGE, label="judging")
    ax.plot(
        x, list(accumulate(d.saved_usd for d in days)), color=GREEN, marker=".", label="saved (cumulative)"
    )
    ax.set_ylabel("US$")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(title, loc="left")
    figure.autofmt_xdate()
    return figure
