"""Routing and shadow evaluation end to end, through loopback providers and real Prefect flow runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tenure.config import Env, load_config
from tenure.control.routing import route_task
from tenure.control.task import parse_task
from tenure.flows.shadow_eval import shadow_pending
from tenure.store import ScoreLog, new_id
from tests.fakes.llm_server import FakeLLMServer, error, ok, tool

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("keys", "prefect_server")]

SUMMARY_TASK = {
    "id": "s-1",
    "type": "summarize",
    "input": {
        "text": "We moved the launch from 3 to 10 June because QA found two blockers.",
        "max_words": 15,
    },
}


@pytest.fixture
def ollama() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def configured(anthropic_server: FakeLLMServer, ollama: FakeLLMServer, tmp_path: Path, monkeypatch) -> Path:
    """Ground truth and judge on the loopback Anthropic, one candidate on the loopback Ollama."""
    config = tmp_path / "tenure.toml"
    config.write_text(
        f"""
[providers.anthropic]
base_url = "{anthropic_server.url}"
[providers.ollama]
base_url = "{ollama.url}"
[retry]
retries = 0
[chains]
default = ["anthropic:claude-opus-4-6"]
judge = ["anthropic:claude-opus-4-6"]
[task_types.classify]
candidates = ["ollama:qwen2.5:latest"]
[task_types.summarize]
candidates = ["ollama:qwen2.5:latest"]
"""
    )
    monkeypatch.setenv("TENURE_CONFIG", str(config))
    return Env().home


def scores(home: Path) -> list[dict]:
    columns, rows = ScoreLog(home / "store").query("SELECT * FROM scores ORDER BY ts")
    return [dict(zip(columns, row, strict=True)) for row in rows]


async def test_routed_task_gets_the_ground_truth_answer_and_is_shadowed_later(
    configured: Path, anthropic_server: FakeLLMServer, ollama: FakeLLMServer
):
    anthropic_server.push(tool("final_result", {"label": "billing"}, input_tokens=300, output_tokens=12))
    task = parse_task({"id": "c-1", "type": "classify", "input": {"text": "Invoice #4471 due Friday",
                                                                 "labels": ["billing", "spam"]}})  # fmt: skip

    routed = await route_task(task, load_config(), configured)

    assert (routed.output, routed.served_by) == ("billing", "anthropic:claude-opus-4-6")
    assert routed.queued_for == ["ollama:qwen2.5:latest"]
    assert ollama.completion_requests == []  # nothing shadowed on the caller's path
    archived = ScoreLog(configured / "store").query("SELECT role, source, input, output FROM runs")[1]
    assert archived == [("ground_truth", "live", json.dumps(task.input), '"billing"')]

    ollama.push(tool("final_result", {"label": "spam"}))
    drained = await shadow_pending()

    assert drained["classify"]["ollama:qwen2.5:latest"] == {"scored": 1, "mean": 0.0}
    [score] = scores(configured)
    assert (score["candidate"], score["judge"], score["score"], score["status"]) == (
        "ollama:qwen2.5:latest", "label_match", 0.0, "ok"
    )  # fmt: skip
    assert score["gt_run_id"] == routed.run_id
    assert await shadow_pending() == {}  # shadowed once, not again


async def test_llm_judge_verdict_is_parsed_and_blind_to_model_names(
    configured: Path, anthropic_server: FakeLLMServer, ollama: FakeLLMServer
):
    anthropic_server.push(ok("Launch moved to 10 June over two QA blockers."))
    await route_task(parse_task(SUMMARY_TASK), load_config(), configured)
    ollama.push(ok("The launch is now 10 June because of QA blockers."))
    anthropic_server.push(ok('{"score": 0.85, "passed": true, "reason": "Same date and cause."}'))

    await shadow_pending()

    [score] = scores(configured)
    assert (score["judge"], score["judge_kind"], score["score"], score["passed"], score["reason"]) == (
        "llm:anthropic:claude-opus-4-6", "llm", 0.85, True, "Same date and cause."
    )  # fmt: skip
    body = anthropic_server.completion_requests[-1].body
    assert body is not None
    judge_prompt = json.dumps([body.get("system"), body["messages"]]).lower()  # what the judge reads
    assert "reference answer" in judge_prompt and "candidate answer" in judge_prompt
    for name in ("qwen", "ollama", "claude", "anthropic", "gemma"):
        assert name not in judge_prompt


async def test_malformed_judge_replies_are_retried_then_recorded_as_a_judging_failure(
    configured: Path, anthropic_server: FakeLLMServer, ollama: FakeLLMServer
):
    anthropic_server.push(ok("Launch moved to 10 June."))
    await route_task(parse_task(SUMMARY_TASK), load_config(), configured)
    ollama.push(ok("Launch is on 10 June."))
    anthropic_server.push(*[ok("I think it is pretty good!")] * 4)

    await shadow_pending()

    judge_calls = len(anthropic_server.completion_requests) - 1
    assert judge_calls >= 2  # the bad reply was retried
    [score] = scores(configured)
    assert (score["status"], score["score"], score["judge_kind"]) == ("judge_failed", None, "llm")
    assert ScoreLog(configured / "store").query("SELECT count(*) FROM confidence")[1] == [(0,)]


async def test_golden_tasks_can_take_their_ground_truth_live_from_the_chain(
    configured: Path, anthropic_server: FakeLLMServer, ollama: FakeLLMServer
):
    from tenure.flows.shadow_eval import shadow_eval

    task = parse_task({"id": "g-1", "type": "classify", "reference": "spam",
                       "input": {"text": "You won a cruise", "labels": ["billing", "spam"]}})  # fmt: skip
    anthropic_server.push(tool("final_result", {"label": "billing"}))  # the ground truth disagrees with gold
    ollama.push(tool("final_result", {"label": "billing"}))

    summary = await shadow_eval("classify", tasks=[task], source="golden", ground_truth="chain")

    assert summary == {"ollama:qwen2.5:latest": {"scored": 1, "mean": 1.0}}  # judged against the live answer
    log = ScoreLog(configured / "store")
    gt = log.query("SELECT model, served_by, output, reference FROM runs WHERE role = 'ground_truth'")[1]
    assert gt == [("chain:default", "anthropic:claude-opus-4-6", '"billing"', '"spam"')]


async def test_flow_runs_have_readable_names_and_aggregation_and_compaction_run_as_flows(
    configured: Path, anthropic_server: FakeLLMServer, ollama: FakeLLMServer
):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort, FlowRunSort

    from tenure.flows.shadow_eval import aggregate_confidence, compact_store
    from tenure.store.rows import TABLE_NAMES

    for label in ("billing", "spam"):
        anthropic_server.push(tool("final_result", {"label": "billing"}))
        task = parse_task({"id": f"c-{label}", "type": "classify",
                           "input": {"text": f"about {label}", "labels": ["billing", "spam"]}})  # fmt: skip
        await route_task(task, load_config(), configured)
        ollama.push(tool("final_result", {"label": label}))
        await shadow_pending()

    [row] = aggregate_confidence()
    assert (row["model"], row["task_type"], row["judge"], row["n"], row["mean"]) == (
        "ollama:qwen2.5:latest", "classify", "label_match", 2, 0.5
    )  # fmt: skip
    reports = compact_store()
    assert [(r["table"], r["segments_after"], r["rows"]) for r in reports if r["rows"]] == [
        ("runs", 1, 4),
        ("scores", 1, 2),
    ]
    assert {r["table"] for r in reports} == set(TABLE_NAMES)
    assert ScoreLog(configured / "store").score_totals(after_demotion=False)[0].n == 2
    async with get_client() as client:
        newest_first = await client.read_flow_runs(sort=FlowRunSort.EXPECTED_START_TIME_DESC)
        [board] = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["scoreboard"])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    shadow = next(run for run in newest_first if run.name == "shadow_eval/classify/ollama:qwen2.5")
    assert {"task_type:classify", "source:live", "model:ollama:qwen2.5:latest"} <= set(shadow.tags)
    assert board.type == "table" and board.flow_run_id is not None
    table = board.data if isinstance(board.data, dict) else json.loads(str(board.data))
    [stream] = [dict(zip(table, cells, strict=True)) for cells in zip(*table.values(), strict=True)]
    assert (stream["model"], stream["task_type"], stream["judge"], stream["n"]) == (
        "ollama:qwen2.5:latest", "classify", "label_match", 2
    )  # fmt: skip


async def test_a_backlog_drains_in_batches_not_one_flow_run_per_task(
    configured: Path, anthropic_server: FakeLLMServer, ollama: FakeLLMServer
):
    anthropic_server.push(*[tool("final_result", {"label": "billing"})] * 5)
    ollama.push(*[tool("final_result", {"label": "billing"})] * 5)
    for i in range(5):
        data = {"text": f"invoice {i}", "labels": ["billing", "spam"]}
        task = parse_task({"id": f"b-{i}", "type": "classify", "input": data})
        await route_task(task, load_config(), configured)

    drained = await shadow_pending(limit=2)

    assert drained == {"classify": {"ollama:qwen2.5:latest": {"scored": 5, "mean": 1.0}}}
    segments = ScoreLog(configured / "store").segments("scores")
    assert len(segments) == 3  # batches of 2, 2 and 1: three shadow_eval runs, one scores segment each


def promote(config_path: Path, canary_rate: float) -> None:
    text = config_path.read_text().replace(
        '[task_types.classify]\ncandidates = ["ollama:qwen2.5:latest"]',
        '[task_types.classify]\ncandidates = []\npromoted = "ollama:qwen2.5:latest"\n'
        f"canary_rate = {canary_rate}",
    )
    config_path.write_text(text)


async def test_a_promoted_model_answers_and_its_canaries_are_judged_against_the_ground_truth_later(
    configured: Path, anthropic_server: FakeLLMServer, ollama: FakeLLMServer
):
    promote(Env().config_path, canary_rate=1.0)
    ollama.push(tool("final_result", {"label": "billing"}))
    task = parse_task(
        {"id": "p-1", "type": "classify", "input": {"text": "Invoice", "labels": ["billing", "spam"]}}
    )

    routed = await route_task(task, load_config(), configured)

    assert (routed.output, routed.served_by) == ("billing", "ollama:qwen2.5:latest")
    assert routed.queued_for == ["ground truth (default) as canary"]
    assert anthropic_server.completion_requests == []  # no ground-truth call on the caller's path

    anthropic_server.push(tool("final_result", {"label": "spam"}))  # the ground truth disagrees
    drained = await shadow_pending()

    assert drained == {"classify/canary": {"ollama:qwen2.5:latest": {"scored": 1, "mean": 0.0}}}
    [score] = scores(configured)
    assert (score["source"], score["candidate"], score["run_id"], score["score"]) == (
        "canary", "ollama:qwen2.5:latest", routed.run_id, 0.0
    )  # fmt: skip
    assert await shadow_pending() == {}


async def test_without_a_canary_draw_or_when_the_promoted_model_fails(
    configured: Path, anthropic_server: FakeLLMServer, ollama: FakeLLMServer
):
    promote(Env().config_path, canary_rate=0.0)
    task = parse_task(
        {"id": "p-2", "type": "classify", "input": {"text": "Invoice", "labels": ["billing", "spam"]}}
    )
    ollama.push(tool("final_result", {"label": "billing"}))
    quiet = await route_task(task, load_config(), configured)
    assert (quiet.served_by, quiet.queued_for) == ("ollama:qwen2.5:latest", [])

    ollama.push(error(503, "ollama is restarting"))
    anthropic_server.push(tool("final_result", {"label": "billing"}))
    rescued = await route_task(task, load_config(), configured)
    assert rescued.served_by == "anthropic:claude-opus-4-6"  # the ground truth stepped in
    roles = ScoreLog(configured / "store").query("SELECT role FROM runs ORDER BY ts")[1]
    assert roles == [("promoted",), ("ground_truth",)]


def evidence(n: int, score: float, source: str) -> list[dict]:
    return [
        {"score_id": new_id(), "run_id": new_id(), "gt_run_id": new_id(), "task_id": f"t{i}",
         "task_type": "classify", "candidate": "ollama:qwen2.5:latest", "judge": "label_match",
         "judge_kind": "deterministic", "score": score, "passed": score == 1.0, "reason": "", "status": "ok",
         "source": source}
        for i in range(n)
    ]  # fmt: skip


async def test_promote_then_canary_then_demote_end_to_end(
    configured: Path, anthropic_server: FakeLLMServer, ollama: FakeLLMServer
):
    from prefect import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterKey,
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterStartTime,
    )
    from prefect.client.schemas.sorting import ArtifactSort, FlowRunSort
    from prefect.settings import PREFECT_API_URL

    from tenure.flows.promotions import promotion_check
    from tests.prefect_api import events

    config_path = Env().config_path
    config_path.write_text(config_path.read_text().replace(
        '[task_types.classify]\n', '[task_types.classify]\ncanary_rate = 1.0\n'))  # fmt: skip
    began = datetime.now(UTC)
    log = ScoreLog(configured / "store")
    log.append("scores", evidence(120, 1.0, "golden"))  # strong shadow evidence for the candidate

    [promoted] = promotion_check()

    assert (promoted["action"], promoted["actor"], promoted["model"]) == (
        "promote",
        "gate",
        "ollama:qwen2.5:latest",
    )
    assert promoted["evidence"]["policy"] == "sequential" and promoted["evidence"]["bound"] > 0.93
    task = parse_task(
        {"id": "e-1", "type": "classify", "input": {"text": "Invoice", "labels": ["billing", "spam"]}}
    )
    ollama.push(tool("final_result", {"label": "billing"}))
    local = await route_task(task, load_config(), configured)
    assert (local.served_by, local.queued_for) == (
        "ollama:qwen2.5:latest",
        ["ground truth (default) as canary"],
    )

    log.append("scores", evidence(60, 0.0, "canary"))  # the canaries say it collapsed
    [demoted] = promotion_check()

    assert (demoted["action"], demoted["actor"]) == ("demote", "drift")
    anthropic_server.push(tool("final_result", {"label": "billing"}))
    back = await route_task(task, load_config(), configured)
    assert back.served_by == "anthropic:claude-opus-4-6"
    assert promotion_check() == []  # a demoted model starts over: its old evidence does not re-promote it
    # every decision was announced as a Prefect event, readable by any process through the API
    announced = await events(str(PREFECT_API_URL.value()), "tenure.promotion.", began, expect=2)
    assert [(e["event"], e["resource"]["prefect.resource.id"]) for e in announced] == [
        ("tenure.promotion.promoted", "tenure.task-type.classify"),
        ("tenure.promotion.demoted", "tenure.task-type.classify"),
    ]
    assert announced[0]["payload"]["evidence"] == promoted["evidence"]
    assert announced[0]["related"][0]["prefect.resource.id"] == "tenure.model.ollama:qwen2.5:latest"
    # and the UI shows each check by what it did, its decisions as a markdown artifact with the evidence
    async with get_client() as client:
        checks = await client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["promotion_check"])),
            flow_run_filter=FlowRunFilter(
                start_time=FlowRunFilterStartTime.model_validate({"after_": began})
            ),
            sort=FlowRunSort.START_TIME_ASC,
        )
        reports = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["promotion-decisions"])),
            sort=ArtifactSort.CREATED_DESC,
        )
    assert [r.name for r in checks] == [
        "promotion_check: promoted ollama:qwen2.5:latest for classify",
        "promotion_check: demoted ollama:qwen2.5:latest for classify",
        "promotion_check: no change",
    ]
    [promoted_report] = [str(a.data) for a in reports if a.flow_run_id == checks[0].id]
    assert promoted_report.startswith("**promoted ollama:qwen2.5:latest for classify**")
    assert "| promoted | classify | ollama:qwen2.5:latest | gate |" in promoted_report


async def test_a_clearly_worse_candidate_is_rejected_and_no_longer_shadowed(
    configured: Path, anthropic_server: FakeLLMServer, ollama: FakeLLMServer
):
    from tenure.flows.promotions import promotion_check

    ScoreLog(configured / "store").append("scores", evidence(40, 0.0, "golden"))
    [rejected] = promotion_check()
    assert (rejected["action"], rejected["model"]) == ("reject", "ollama:qwen2.5:latest")

    anthropic_server.push(tool("final_result", {"label": "billing"}))
    task = parse_task(
        {"id": "r-1", "type": "classify", "input": {"text": "Invoice", "labels": ["billing", "spam"]}}
    )
    routed = await route_task(task, load_config(), configured)
    assert routed.queued_for == []  # nothing left to shadow this type
    assert await shadow_pending() == {}
    assert ollama.completion_requests == []


async def test_backtest_runs_a_new_candidate_over_the_archive_without_ground_truth_calls(
    configured: Path, anthropic_server: FakeLLMServer, ollama: FakeLLMServer
):
    from tenure.flows.shadow_eval import backtest

    for i in range(3):  # build an archive by routing real tasks through the loopback ground truth
        anthropic_server.push(tool("final_result", {"label": "billing"}))
        data = {"text": f"invoice {i}", "labels": ["billing", "spam"]}
        await route_task(
            parse_task({"id": f"a-{i}", "type": "classify", "input": data}), load_config(), configured
        )
    asked = len(anthropic_server.completion_requests)
    ollama.push(*[tool("final_result", {"label": "billing"})] * 3)

    verdict = await backtest("ollama:qwen2.5:latest", "classify", limit=10)

    assert len(anthropic_server.completion_requests) == asked  # no new ground-truth calls
    [reading] = verdict["readings"]
    assert verdict["archived"] == 3
    assert (reading["judge"], reading["use"], reading["n"], reading["mean"], reading["decision"]) == (
        "label_match", "evidence", 3, 1.0, "continue"
    )  # fmt: skip
    log = ScoreLog(configured / "store")
    assert log.query("SELECT source, count(*) FROM scores GROUP BY 1")[1] == [("backtest", 3)]
    assert log.query("SELECT count(*) FROM runs WHERE role = 'ground_truth'")[1] == [
        (3,)
    ]  # nothing re-archived


async def test_shadowing_pauses_when_the_daily_judge_budget_is_spent(
    configured: Path, anthropic_server: FakeLLMServer, ollama: FakeLLMServer
):
    log = ScoreLog(configured / "store")
    spent = [{**row, "cost_usd": 1.25, "judge": "llm:anthropic:claude-opus-4-6", "judge_kind": "llm"}
             for row in evidence(2, 0.9, "live")]  # fmt: skip
    log.append("scores", spent)  # $2.50 today against the default $2.00 cap
    anthropic_server.push(tool("final_result", {"label": "billing"}))
    task = parse_task(
        {"id": "j-1", "type": "classify", "input": {"text": "Invoice", "labels": ["billing", "spam"]}}
    )
    await route_task(task, load_config(), configured)

    assert await shadow_pending() == {}
    assert ollama.completion_requests == []  # paused: no candidate call, no judge call
    assert log.judge_spend_today() == {"classify": 2.5}
    assert log.pending_shadows("classify", "ollama:qwen2.5:latest", 10)  # still queued for tomorrow
