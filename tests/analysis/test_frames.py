"""The analysis replays the control plane's own decisions run by run: each curve ends where ``tenure
scores`` stands, the drift test fires where a demotion was recorded, and every figure draws, on the
sample log and on an empty one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenure.analysis import figures, frames
from tenure.analysis.page import main_figures, png
from tenure.config import parse_config
from tenure.control.costs import ledger
from tenure.store import ScoreLog
from tests.analysis.sample_log import GEMMA, QWEN, Sample, write_sample_log

CONFIG = parse_config({})


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[ScoreLog, Sample]:
    home = tmp_path_factory.mktemp("sample")
    return ScoreLog.for_home(home), write_sample_log(home)


def test_each_gate_path_ends_at_the_scoreboards_bound_and_decision(sample: tuple[ScoreLog, Sample]):
    log, _ = sample
    board = {(r.model, r.task_type, r.judge): r for r in frames.board(log, CONFIG) if r.use == "evidence"}
    paths = frames.gate_paths(log, CONFIG)
    assert {(p.model, p.task_type, p.judge) for p in paths} == set(board)
    for path in paths:
        row = board[(path.model, path.task_type, path.judge)]
        assert path.n[-1] == row.n and path.bound[-1] == pytest.approx(row.bound)
        assert path.decision == row.decision
        assert all(b <= m + 1e-9 for b, m in zip(path.bound, path.mean, strict=True))  # never above the mean
    by_type = {(p.model, p.task_type): p for p in paths}
    # the classify candidate was demoted on day -10: its path counts only the 70 shadows since
    assert by_type[(QWEN, "classify")].n[-1] == 70
    # the LLM judge is read as pass/fail, against bars moved for its errors
    summarize = by_type[(GEMMA, "summarize")]
    assert summarize.reads == "passes" and summarize.bars["bar"] < 0.95


def test_the_drift_test_fires_in_the_promotion_that_was_demoted(sample: tuple[ScoreLog, Sample]):
    log, _ = sample
    paths = {p.task_type: p for p in frames.canary_paths(log, CONFIG)}
    demoted, serving = paths["classify"], paths["extract"]
    assert demoted.ended_by == "drift" and demoted.fires_at is not None and demoted.n[-1] == 40
    assert serving.ended_at is None and serving.fires_at is None and serving.n[-1] == 30
    assert demoted.bar == serving.bar == 0.95


def test_provider_counts_are_the_call_records_attempts(sample: tuple[ScoreLog, Sample]):
    log, s = sample
    attempts = [a for r in s.runs if isinstance(r.record, dict) for a in r.record.get("attempts", [])]
    stats = {p.provider: p for p in frames.providers(log)}
    assert sum(p.attempts for p in stats.values()) == len(attempts)
    fell_back = [a for a in attempts if a["outcome"] == "fell_back"]
    assert stats["anthropic"].fell_back == len(fell_back) > 0 and stats["openai"].fell_back == 0
    assert stats["ollama"].latency_p50_ms is not None and stats["ollama"].latency_p50_ms < 2000


def test_the_days_add_up_to_the_ledger(sample: tuple[ScoreLog, Sample]):
    log, _ = sample
    days = frames.spend(log)
    book = ledger(log, CONFIG, frames.BEGINNING)
    assert sum(d.saved_usd for d in days) == pytest.approx(book.saved_usd) and book.saved_usd > 0
    assert sum(d.runs_usd for d in days) == pytest.approx(book.runs_usd)
    assert sum(d.judging_usd for d in days) == pytest.approx(book.judging_usd)


def test_judge_trust_holds_the_calibrations_and_the_peoples_agreement(sample: tuple[ScoreLog, Sample]):
    log, s = sample
    trust = frames.judge_trust(log, CONFIG)
    assert len(trust.calibrations) == len(s.calibrations)
    [people] = trust.human
    assert people.task_type == "summarize" and people.n == len(s.labels)


def test_every_figure_draws_on_the_sample_and_on_an_empty_log(
    sample: tuple[ScoreLog, Sample], tmp_path: Path
):
    log, _ = sample
    drawn = main_figures(log, CONFIG)
    empty = main_figures(ScoreLog.for_home(tmp_path / "nothing-yet"), CONFIG)
    assert [s.title for s in drawn] == [s.title for s in empty] and len(drawn) == 6
    for shown in drawn + empty:
        assert shown.caption and png(shown.figure)[:8] == b"\x89PNG\r\n\x1a\n"
    # an empty log draws a figure that says so, not an empty axis
    texts = [t.get_text() for t in empty[0].figure.axes[0].texts]
    assert "no data yet" in texts
    assert figures.scoreboard([]).axes[0].texts[0].get_text() == "no data yet"
