"""The cost ledger reconciles to the cent with a hand computation over a generated log holding live
ground truth, shadow pairs, a promotion with canaries and their checks, judging and agent turns."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenure.cli import app
from tenure.config import Env, parse_config
from tenure.control.costs import ledger
from tenure.store import RunRow, ScoreLog, ScoreRow

NOW = datetime.now(UTC).replace(microsecond=0)
RECENT = NOW - timedelta(hours=1)
LAST_MONTH = (RECENT.replace(day=1) - timedelta(days=2)).replace(hour=12)
OPUS, QWEN = "anthropic:claude-opus-4-6", "ollama:qwen2.5:latest"


def run(task_type: str, role: str, source: str, served_by: str | None, usd: float | None, **kw) -> RunRow:
    kw = {"task_id": "t", "ts": RECENT} | kw
    return RunRow(task_type=task_type, role=role, source=source, served_by=served_by, cost_usd=usd, **kw)


def score(source: str, usd: float, judge: str = f"llm:{OPUS}") -> ScoreRow:
    return ScoreRow(task_id="t", task_type="classify", candidate=QWEN, judge=judge, judge_kind="llm",
                    status="ok", score=1.0, source=source, cost_usd=usd, ts=RECENT)  # fmt: skip


def generated_log(root: Path) -> ScoreLog:
    log = ScoreLog(root)
    pairs = [run("classify", "ground_truth", "live", OPUS, usd, task_id=f"p{i}")
             for i, usd in enumerate((0.010, 0.012, 0.008, 0.010))]  # fmt: skip
    shadows = [run("classify", "candidate", "live", QWEN, 0.0, gt_run_id=g.run_id) for g in pairs]
    unpaired = [run("classify", "ground_truth", "live", OPUS, 0.5, ts=LAST_MONTH)]  # never shadowed
    promoted = [run("classify", "promoted", "live", QWEN, 0.0) for _ in range(30)]
    canaries = [run("classify", "canary", "live", QWEN, 0.0) for _ in range(3)]
    checks = [run("classify", "ground_truth", "canary", OPUS, 0.011) for _ in range(3)]
    turns = [run("agent_turn", "loki", "turn", OPUS, 0.05), run("agent_turn", "loki", "turn", OPUS, 0.05),
             run("agent_turn", "kit", "turn", "anthropic:claude-sonnet-4-6", 0.02)]  # fmt: skip
    other = [run("summarize", "ground_truth", "live", "openai:gpt-4.1", 0.02),
             run("summarize", "ground_truth", "live", "local:gemma-3-270m", None)]  # fmt: skip
    log.append("runs", pairs + shadows + unpaired + promoted + canaries + checks + turns + other)
    log.append(
        "scores", [score("canary", 0.002) for _ in range(3)] + [score("live", 0.003) for _ in range(4)]
    )
    log.append("scores", [score("live", 0.0, judge="label_match")])
    return log


def test_the_ledger_reconciles_with_a_hand_computation(tmp_path: Path):
    config = parse_config({"costs": {"monthly": {"hardware": 10.0, "1password": 3.0}}})
    book = ledger(generated_log(tmp_path / "store"), config, NOW - timedelta(days=60), "model")

    # runs: pairs 0.040 + unpaired 0.5 + canary checks 0.033 + turns 0.12 + summarize 0.02 = 0.713
    assert round(book.runs_usd, 2) == 0.71 and book.runs_usd == pytest.approx(0.713)
    by_model = {line.key: (line.calls, line.usd, line.unpriced) for line in book.lines}
    assert by_model[OPUS] == (4 + 1 + 3 + 2, pytest.approx(0.040 + 0.5 + 0.033 + 0.10), 0)
    assert by_model[QWEN] == (4 + 30 + 3, 0.0, 0)
    assert by_model["local:gemma-3-270m"] == (1, 0.0, 1)  # no price: counted, not summed
    # judging apart: canary 3 × 0.002 + live 4 × 0.003 = 0.018; the deterministic judge free
    assert book.judging_usd == pytest.approx(0.018)
    assert {line.key: line.calls for line in book.judging} == {f"llm:{OPUS}": 7, "label_match": 1}
    # savings: 33 local answers × the mean of the 4 priced pairs (0.010) = 0.33 avoided;
    # spent 0 (local) + 0.033 (canary checks) + 0.006 (canary judging) = 0.039; saved 0.291
    [saving] = book.savings
    assert (saving.task_type, saving.answers, saving.pairs) == ("classify", 33, 4)
    assert saving.unit_usd == pytest.approx(0.010)
    assert (saving.avoided_usd, saving.spent_usd, saving.saved_usd) == (
        pytest.approx(0.33),
        pytest.approx(0.039),
        pytest.approx(0.291),
    )
    # months: the unpaired run fell in the previous month; each month adds the fixed 13.00
    months = {m.month: m for m in book.months}
    assert months[f"{LAST_MONTH:%Y-%m}"].variable_usd == pytest.approx(0.5)
    assert months[f"{RECENT:%Y-%m}"].variable_usd == pytest.approx(0.713 - 0.5 + 0.018)
    assert months[f"{RECENT:%Y-%m}"].total_usd == pytest.approx(0.231 + 13.0)


def test_grouping_by_agent_and_window(tmp_path: Path):
    log = generated_log(tmp_path / "store")
    config = parse_config({})
    by_agent = {line.key: line.usd for line in ledger(log, config, NOW - timedelta(days=60), "agent").lines}
    assert by_agent["loki"] == pytest.approx(0.10) and by_agent["kit"] == pytest.approx(0.02)
    assert by_agent["(commodity tasks)"] == pytest.approx(0.593)
    recent = ledger(log, config, NOW - timedelta(days=1), "provider")
    assert {line.key: round(line.usd, 3) for line in recent.lines} == {
        "anthropic": 0.193, "openai": 0.02, "ollama": 0.0, "local": 0.0,
    }  # fmt: skip


def test_the_cost_command_prints_the_ledger_and_its_json():
    generated_log(Env().home / "store")
    runner = CliRunner()
    table = runner.invoke(app, ["cost", "--since", "60d", "--by", "task_type"])
    assert table.exit_code == 0, table.output
    assert "what promotions saved" in table.output and "$0.2910" in table.output
    data = json.loads(runner.invoke(app, ["cost", "--json"]).stdout)
    assert data["saved_usd"] == pytest.approx(0.291) and data["by"] == "model"
    bad = runner.invoke(app, ["cost", "--since", "a month"])
    assert bad.exit_code == 2 and "use a number and d, h or m" in bad.output
