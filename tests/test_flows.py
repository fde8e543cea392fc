"""The ask flow against a real (temporary) Prefect server: the model call is a task in a flow run."""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import cast

import pytest
import yaml
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


def test_prefect_yaml_deploys_every_flow_entrypoint():
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    for deployment in spec["deployments"]:
        flow_obj = load_flow_from_entrypoint(str(ROOT / deployment["entrypoint"]))
        assert flow_obj.name == deployment["name"]
        assert deployment["work_pool"]["name"] == "tenure-local"
    names = {d["name"] for d in spec["deployments"]}
    assert names == {
        "ask",
        "agent_turn",
        "shadow_pending",
        "shadow_eval",
        "aggregate_confidence",
        "promotion_check",
        "compact_store",
        "vault_embed",
    }
    scheduled = {d["name"]: d["schedules"][0] for d in spec["deployments"] if "schedules" in d}
    assert scheduled == {
        "shadow_pending": {"interval": 300},
        "aggregate_confidence": {"cron": "5 * * * *"},
        "promotion_check": {"cron": "10 * * * *"},
        "compact_store": {"cron": "30 3 * * *"},
        "vault_embed": {"cron": "15 2 * * *"},
    }


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
