"""One owner for what counts as evidence: ``tenure scores``, ``promotion_check`` and ``tenure backtest``
read the same score log the same way (canary scores, a demotion and heuristic-judge rows included)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from tenure.cli import app
from tenure.config import TenureConfig
from tenure.control.evidence import primary_judge_kind, shadow_readings
from tenure.control.judges import PROMPT_VERSION
from tenure.control.promotions import review
from tenure.control.scoreboard import scoreboard
from tenure.runtime import runtime
from tenure.store import CalibrationRow, EventRow, ScoreLog, ScoreRow

QWEN, LLAMA = "ollama:qwen2.5:latest", "ollama:llama3.2:3b"
DEMOTED_AT = datetime(2026, 11, 1, tzinfo=UTC)
OPUS = "llm:anthropic:claude-opus-4-6"
CALIBRATED = CalibrationRow(
    judge=OPUS, prompt_version=PROMPT_VERSION, task_type="summarize", n=150, agreement=0.93, kappa=0.86,
    false_pass=0.05, false_pass_low=0.02, false_pass_high=0.11, false_fail=0.08, false_fail_low=0.04,
    false_fail_high=0.15, source="judge_set",
)  # fmt: skip


def scores(
    model: str, task_type: str, judge: str, kind: str, n: int, value: float, source: str, at: datetime
):
    version = PROMPT_VERSION if kind == "llm" else None
    return [
        ScoreRow(
            ts=at + timedelta(seconds=i),
            task_id=f"{task_type}-{i}",
            task_type=task_type,
            candidate=model,
            judge=judge,
            judge_kind=kind,
            score=value,
            passed=value == 1.0,
            status="ok",
            source=source,
            prompt_version=version,
        )
        for i in range(n)
    ]


@pytest.fixture
def log() -> ScoreLog:
    """Evidence that reads differently under each wrong rule:

    - qwen on classify: 150 perfect backtest scores *before* its demotion, 20 after, and 100 perfect
      canary scores after: counting the old scores or the canaries would promote it; the rules give
      n = 20 and "continue";
    - qwen on summarize: 200 perfect scores from the offline heuristic judge: shown, never evidence;
    - llama on classify: 60 perfect backtest scores: promote;
    - llama on summarize: 40 LLM-judge scores of 0, from a judge calibrated for summarize: reject.
    """
    log = runtime().log
    log.append("judge_calibrations", [CALIBRATED])
    before, after = DEMOTED_AT - timedelta(days=3), DEMOTED_AT + timedelta(hours=1)
    log.append(
        "scores", scores(QWEN, "classify", "label_match", "deterministic", 150, 1.0, "backtest", before)
    )
    log.append("events", [EventRow(ts=DEMOTED_AT, task_type="classify", model=QWEN, action="demote",
                                   actor="user:test", reason="demoted by hand")])  # fmt: skip
    log.append("scores", scores(QWEN, "classify", "label_match", "deterministic", 20, 1.0, "backtest", after))
    log.append("scores", scores(QWEN, "classify", "label_match", "deterministic", 100, 1.0, "canary", after))
    log.append(
        "scores", scores(QWEN, "summarize", "heuristic:minilm", "heuristic", 200, 1.0, "backtest", after)
    )
    log.append(
        "scores", scores(LLAMA, "classify", "label_match", "deterministic", 60, 1.0, "backtest", after)
    )
    log.append(
        "scores",
        scores(LLAMA, "summarize", "llm:anthropic:claude-opus-4-6", "llm", 40, 0.0, "backtest", after),
    )
    return log


def test_the_primary_judge_comes_from_the_task_type():
    assert primary_judge_kind("classify") == "deterministic" and primary_judge_kind("summarize") == "llm"


def test_scores_promotion_check_and_backtest_give_the_same_verdicts(log: ScoreLog):
    config = TenureConfig()
    due = {
        (e.model, e.task_type): e.action for e in review(log, config).events
    }  # what promotion_check records
    board = {
        (r.model, r.task_type, r.judge): r for r in scoreboard(log, config)
    }  # what `tenure scores` shows
    cli = CliRunner().invoke(app, ["scores", "--json"])
    assert cli.exit_code == 0, cli.output
    shown = {(r["model"], r["task_type"], r["judge"]): r for r in map(json.loads, cli.output.splitlines())}

    assert due == {(LLAMA, "classify"): "promote", (LLAMA, "summarize"): "reject"}
    for model, task_type in [
        (QWEN, "classify"),
        (QWEN, "summarize"),
        (LLAMA, "classify"),
        (LLAMA, "summarize"),
    ]:
        backtest = shadow_readings(
            log, config, source="backtest", model=model, task_type=task_type
        )  # the flow's
        [reading] = backtest
        row = board[(model, task_type, reading.stream.judge)]
        decision = reading.decision.action if reading.decision else None
        assert (row.use, row.n, row.decision) == (reading.use, reading.stream.n, decision)
        assert shown[(model, task_type, reading.stream.judge)]["decision"] == decision
        assert due.get((model, task_type)) == (decision if decision in ("promote", "reject") else None)

    qwen = board[(QWEN, "classify", "label_match")]
    assert (qwen.use, qwen.n, qwen.decision, qwen.status) == ("evidence", 20, "continue", "collecting")
    heuristic = board[(QWEN, "summarize", "heuristic:minilm")]
    assert (heuristic.use, heuristic.decision, heuristic.status) == ("shown", None, "shown")
    assert heuristic.detail == "heuristic judge: never gated on"
    assert (
        board[(LLAMA, "classify", "label_match")].status,
        board[(LLAMA, "summarize", "llm:anthropic:claude-opus-4-6")].status,
    ) == ("promote", "reject")


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
async def test_the_backtest_and_promotion_check_flows_agree_with_the_scoreboard(log: ScoreLog):
    from tenure.flows.promotions import promotion_check
    from tenure.flows.shadow_eval import backtest

    config = TenureConfig()
    board = {(r.model, r.task_type): r for r in scoreboard(log, config) if r.use == "evidence"}
    verdict = await backtest(QWEN, "classify")  # nothing archived: the verdict on the backtest scores so far
    assert verdict["archived"] == 0
    assert [(r["use"], r["n"], r["decision"]) for r in verdict["readings"]] == [("evidence", 20, "continue")]
    assert board[(QWEN, "classify")].decision == "continue"

    recorded = promotion_check()
    assert {(e["model"], e["task_type"], e["action"]) for e in recorded} == {
        (LLAMA, "classify", "promote"), (LLAMA, "summarize", "reject")
    }  # fmt: skip
    after = {(r.model, r.task_type): r.status for r in scoreboard(log, config) if r.use == "evidence"}
    assert after == {
        (QWEN, "classify"): "collecting",
        (LLAMA, "classify"): "promoted",
        (LLAMA, "summarize"): "rejected",
    }
    assert promotion_check() == []  # nothing more is due on the same evidence
