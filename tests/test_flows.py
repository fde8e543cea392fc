"""The ask flow against a real (temporary) Prefect server: the model call is a task in a flow run."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path
from typing import cast

import pytest
from prefect import State
from prefect.client.orchestration import get_client
from prefect.flows import load_flow_from_entrypoint
from prefect.states import Failed

from tenure.flows.ask import ask
from tenure.models import Attempt, CallFailed, CallResult
from tenure.tasks.calls import is_outage
from tests.fakes.llm_server import FakeLLMServer, ok

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[1]


async def test_ask_flow_records_a_flow_run_with_the_model_task(prefect_server, monkeypatch, tmp_path: Path):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    config = tmp_path / "tenure.toml"
    with FakeLLMServer() as server:
        config.write_text(f'[providers.anthropic]\nbase_url = "{server.url}"\n')
        monkeypatch.setenv("TENURE_CONFIG", str(config))
        server.push(ok("flow answer", input_tokens=12, output_tokens=3))
        # an async flow called with return_state=True returns a coroutine of its State; Prefect's
        # overloads miss the async case (they type it as a State of a coroutine)
        state = await cast(
            "Awaitable[State[CallResult]]", ask("hi", target="anthropic:claude-opus-4-6", return_state=True)
        )

    result = await state.aresult()
    assert (result.served_by, result.output) == ("anthropic:claude-opus-4-6", "flow answer")
    assert state.state_details.flow_run_id is not None
    async with get_client() as client:
        flow_run = await client.read_flow_run(state.state_details.flow_run_id)
        task_runs = await client.read_task_runs()
    assert flow_run.name == "ask/anthropic:claude-opus-4-6"
    assert flow_run.parameters == {"prompt": "hi", "target": "anthropic:claude-opus-4-6", "max_tokens": None}
    assert [t.name for t in task_runs if t.flow_run_id == flow_run.id] == ["call/anthropic:claude-opus-4-6"]
    assert "sk-ant-test" not in str(flow_run.parameters)


async def test_deployments_apply_from_the_package_with_module_entrypoints_and_schedules(prefect_server):
    """``apply`` (what ``tenure up`` and ``tenure serve worker`` run) creates the pool and every deployment
    of the packaged prefect.yaml; two workers applying at the same moment both succeed, and a later
    apply updates in place (same ids, no duplicates)."""
    from prefect.settings import PREFECT_API_URL

    from tenure.config import PrefectConfig
    from tenure.deployments.deploy import apply

    api = str(PREFECT_API_URL.value())
    first, racing = await asyncio.gather(*(apply(api, PrefectConfig(pool="apply-test")) for _ in range(2)))
    again = await apply(api, PrefectConfig(pool="apply-test"))
    assert first == racing == again and len(first) == 10
    async with get_client() as client:
        pool = await client.read_work_pool("apply-test")
        deployments = {
            f"{(d.entrypoint or '?').rsplit('.', 1)[1]}/{d.name}": d
            for d in await client.read_deployments()
            if d.work_pool_name == "apply-test"
        }
    assert pool.type == "process"
    assert sorted(deployments) == sorted(first)
    for name, d in deployments.items():
        entrypoint = d.entrypoint or ""
        assert entrypoint.startswith("tenure.flows.") and ":" not in entrypoint, name
        assert d.pull_steps == [] and "tenure" in d.tags
        assert load_flow_from_entrypoint(entrypoint).name == name.split("/")[0]
    scheduled = {
        name.split("/")[1]: [getattr(s.schedule, "cron", None) or s.schedule.interval.total_seconds()  # type: ignore[union-attr]
                             for s in d.schedules]
        for name, d in deployments.items()
        if d.schedules
    }  # fmt: skip
    assert scheduled == {
        "shadow_pending": [300.0],
        "aggregate_confidence": ["5 * * * *"],
        "promotion_check": ["10 * * * *"],
        "compact_store": ["30 3 * * *"],
        "vault_embed": ["15 2 * * *"],
        "inbox_triage": [900.0],
        "inbox_digest": ["30 7 * * *"],
    }
    limit = deployments["shadow_pending/shadow_pending"].global_concurrency_limit
    assert limit is not None and limit.limit == 1


@pytest.mark.parametrize(
    ("attempts", "retried"),
    [
        ([Attempt(model="anthropic:claude-opus-4-6", outcome="fell_back")], True),  # every provider down
        ([Attempt(model="anthropic:claude-opus-4-6", outcome="failed", status=400)], False),  # bad request
    ],
)
def test_task_retries_only_a_provider_outage(attempts: list[Attempt], retried: bool):
    failure = CallFailed(
        "chain:default: every model failed", CallResult(requested="chain:default", served_by=None)
    )
    failure.result.attempts.extend(attempts)
    assert is_outage(None, None, Failed(data=failure)) is retried
    assert is_outage(None, None, Failed(data=ValueError("bad config"))) is False
