"""Agent turns: scripted models (FunctionModel) for the loop itself, a loopback Anthropic server for the
real SDK path through the ``agent_turn`` flow on a real Prefect server."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from tenure.agents.turn import TurnResult, run_turn
from tenure.config import Env, TenureConfig, load_config, parse_config
from tenure.models.chain import Link
from tenure.models.pricing import load_pricing
from tenure.store import ScoreLog
from tests.fakes.llm_server import FakeLLMServer, error, ok, tool

if TYPE_CHECKING:
    from prefect import State

# -- the turn loop with scripted models ---------------------------------------------------------------


def returned(messages: list[ModelMessage]) -> list[Any]:
    return [p.content for m in messages for p in m.parts if isinstance(p, ToolReturnPart)]


Script = Callable[[str, list[ModelMessage], AgentInfo], ModelResponse]


def scripted(agent: str, script: Script, config: TenureConfig) -> Link:
    """The model a turn is handed instead of its chain: a chain link around a FunctionModel that runs
    ``script(agent, messages, info)`` (so it is priced and recorded like a real model)."""

    def reply(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return script(agent, messages, info)

    return Link("anthropic:claude-sonnet-4-6", FunctionModel(reply), config.retry, load_pricing())


def team_config(**agents: dict) -> TenureConfig:
    """The shipped team, with per-agent settings changed."""
    return parse_config({"agents": agents})


async def turn(
    agent: str, message: str, thread: str, script: Script, config: TenureConfig, home: Path, depth=0
):
    """A turn answered by ``script``, whose dispatches run the teammate's turn with the same script."""

    async def dispatcher(to: str, request: str, in_thread: str, at_depth: int) -> TurnResult:
        return await run_turn(
            to, request, in_thread, config=config, home=home, depth=at_depth, dispatcher=dispatcher,
            model=scripted(to, script, config),
        )  # fmt: skip

    return await run_turn(
        agent, message, thread, config=config, home=home, depth=depth, dispatcher=dispatcher,
        model=scripted(agent, script, config),
    )  # fmt: skip


async def test_loki_dispatches_to_kit_and_uses_kits_answer(tmp_path: Path):
    def script(agent: str, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if agent == "kit":
            assert "dispatch" not in [t.name for t in info.function_tools]  # specialists do not dispatch
            return ModelResponse(parts=[TextPart("Prefect's UI listens on port 4200.")])
        answers = returned(messages)
        if not answers:
            return ModelResponse(
                parts=[ToolCallPart("dispatch", {"agent": "kit", "request": "Prefect UI port?"})]
            )
        return ModelResponse(parts=[TextPart(f"Kit says: {answers[-1]}")])

    result = await turn("loki", "Which port?", "t1", script, team_config(), tmp_path)
    assert result.outcome == "answered"
    assert result.answer == "Kit says: Prefect's UI listens on port 4200."
    assert [d.agent for d in result.dispatched] == ["kit"]
    assert result.dispatched[0].answer == "Prefect's UI listens on port 4200."
    assert [(c.name, c.ok) for c in result.tool_calls] == [("dispatch", True)]
    assert result.served_by == ["anthropic:claude-sonnet-4-6"] and result.requests == 2


@pytest.mark.parametrize(
    ("target", "depth", "refusal"),
    [
        ("loki", 0, "you cannot dispatch to yourself"),
        ("bob", 0, "there is no agent named 'bob'"),
        ("kit", 1, "dispatch depth 1 reached"),
    ],
)
async def test_dispatch_refuses_self_unknown_and_too_deep(tmp_path: Path, target, depth, refusal):
    def script(agent: str, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        answers = returned(messages)
        if not answers:
            return ModelResponse(parts=[ToolCallPart("dispatch", {"agent": target, "request": "x"})])
        return ModelResponse(parts=[TextPart(str(answers[-1]))])

    config = team_config().model_copy(update={"max_dispatch_depth": 1})
    result = await turn("loki", "go", "t", script, config, tmp_path, depth=depth)
    assert result.outcome == "answered" and refusal in result.answer and result.dispatched == []
    assert [(c.name, c.ok) for c in result.tool_calls] == [("dispatch", False)]


@pytest.mark.parametrize(
    ("limits", "phrase", "key"),
    [
        ({"max_requests": 1}, "the request_limit of 1", "max_requests"),
        ({"max_tool_calls": 1}, "the tool_calls_limit of 1", "max_tool_calls"),
        ({"max_tokens": 100}, "the total_tokens_limit of 100", "max_tokens"),
        ({"max_usd": 0.01}, "the `cost_limit` of 0.01", "max_usd"),
    ],
)
async def test_a_turn_that_reaches_a_limit_stops_with_a_clear_message(tmp_path: Path, limits, phrase, key):
    from pydantic_ai.usage import RequestUsage

    def script(agent: str, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        # every request calls two tools and uses 8,000 tokens (sonnet: $0.072)
        usage = RequestUsage(input_tokens=4000, output_tokens=4000)
        return ModelResponse(
            parts=[ToolCallPart("memory_read", {}), ToolCallPart("memory_read", {})], usage=usage
        )

    result = await turn("loki", "loop forever", "t", script, team_config(loki={"limits": limits}), tmp_path)
    assert result.outcome == "limit" and result.answer == ""
    assert result.message is not None
    assert result.message.startswith("Loki stopped this turn at a limit: ")
    assert phrase in result.message
    assert result.message.endswith(f"(agents.loki.limits.{key} in tenure.toml)")
    assert "Traceback" not in result.message and "https://" not in result.message


async def test_a_second_turn_in_a_thread_sees_the_first(tmp_path: Path):
    seen: list[list[str]] = []

    def script(agent: str, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        texts = [getattr(p, "content", "") for m in messages for p in m.parts]
        seen.append([t for t in texts if isinstance(t, str)])
        return ModelResponse(parts=[TextPart(f"reply {len(seen)}")])

    config = team_config()
    await turn("loki", "My cat is called Miso.", "home-chat", script, config, tmp_path)
    await turn("loki", "What is my cat called?", "home-chat", script, config, tmp_path)
    await turn("loki", "What is my cat called?", "other-thread", script, config, tmp_path)
    assert seen[1][:3] == ["My cat is called Miso.", "reply 1", "What is my cat called?"]
    assert "My cat is called Miso." not in seen[2]


@pytest.mark.parametrize("damage", [b"{corrupt", b"", b'[{"kind": "nonsense"}]', b"\xff\xfe"])
async def test_a_damaged_thread_file_is_moved_aside_and_the_thread_starts_afresh(
    tmp_path: Path, damage: bytes
):
    def script(agent: str, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[TextPart(f"saw {len(messages)} messages")])

    config = team_config()
    await turn("loki", "My cat is called Miso.", "home-chat", script, config, tmp_path)
    path = tmp_path / "threads" / "loki" / "home-chat.json"
    path.write_bytes(damage)

    result = await turn("loki", "What is my cat called?", "home-chat", script, config, tmp_path)
    assert result.answer == "saw 1 messages"  # a fresh thread: only the new message
    (note,) = result.notes
    assert str(path) in note and "thread started afresh" in note
    (aside,) = path.parent.glob("home-chat.json.damaged-*")
    assert aside.read_bytes() == damage  # kept for the user, not deleted
    again = await turn("loki", "And now?", "home-chat", script, config, tmp_path)
    assert again.answer == "saw 3 messages" and again.notes == []


async def test_memory_and_vault_tools_use_the_shared_files(tmp_path: Path):
    def script(agent: str, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        answers = returned(messages)
        if agent == "loki" and not answers:
            return ModelResponse(parts=[ToolCallPart("memory_append", {"entry": "The user prefers tea."})])
        if agent == "kit" and not answers:
            return ModelResponse(
                parts=[ToolCallPart("memory_read", {}), ToolCallPart("vault_search", {"query": "x"})]
            )
        return ModelResponse(parts=[TextPart(json.dumps(answers))])

    config = team_config()
    await turn("loki", "remember", "t", script, config, tmp_path)
    kit = await turn("kit", "recall", "t", script, config, tmp_path)
    memory, vault = json.loads(kit.answer)
    assert "· loki\n\nThe user prefers tea." in memory
    assert vault.startswith("The vault is not indexed yet")
    assert (tmp_path / "workspace-kit" / "MEMORY.md").read_text().count("The user prefers tea.") == 1


def test_instructions_hold_persona_rules_team_and_newest_memory_first(tmp_path: Path):
    from tenure.agents.memory import append_entry
    from tenure.agents.turn import instructions
    from tenure.agents.workspace import init_workspaces

    config = TenureConfig()
    init_workspaces(tmp_path, config)
    (tmp_path / "workspace-kit" / "SOUL.md").write_text("# Kit\n\nTerse operator.")
    append_entry(tmp_path / "workspace" / "MEMORY.md", "loki", "older fact")
    append_entry(tmp_path / "workspace" / "MEMORY.md", "sara", "newer fact")
    text = instructions("kit", config, tmp_path)
    assert text.startswith("# Kit\n\nTerse operator.")
    assert (tmp_path / "workspace-kit" / "AGENTS.md").read_text().strip() in text
    assert "- loki: orchestration, complex reasoning and memory" in text and "- kit:" not in text
    assert text.index("newer fact") < text.index("older fact")


# -- through the agent_turn flow, the real Anthropic SDK and a loopback server ------------------------


@pytest.fixture
def team(monkeypatch, tmp_path: Path, keys, anthropic_server: FakeLLMServer) -> Path:
    config = tmp_path / "tenure.toml"
    config.write_text(
        f"""
[providers.anthropic]
base_url = "{anthropic_server.url}"
[retry]
retries = 0
[chains]
default = ["anthropic:claude-opus-4-6", "anthropic:claude-sonnet-4-6"]
specialist = ["anthropic:claude-sonnet-4-6"]
"""
    )
    monkeypatch.setenv("TENURE_CONFIG", str(config))
    return Env().home


pytestmark_flow = pytest.mark.usefixtures("prefect_server")


@pytestmark_flow
async def test_flow_turn_dispatches_to_kit_as_a_subflow_and_logs_both_turns(
    team: Path, anthropic_server: FakeLLMServer
):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    from tenure.flows.agent_turn import agent_turn

    anthropic_server.push(
        tool("dispatch", {"agent": "kit", "request": "Which port does the Prefect UI use?"}),  # Loki
        ok("4200", input_tokens=50, output_tokens=2),  # Kit
        ok("Kit says 4200.", input_tokens=120, output_tokens=4),  # Loki, with Kit's answer
    )
    # an async flow called with return_state=True returns a coroutine of its State; Prefect's overloads
    # miss the async case (they type it as a State of a coroutine)
    state = await cast(
        "Awaitable[State[TurnResult]]", agent_turn("loki", "Which port?", "tg-42", return_state=True)
    )
    result: TurnResult = await state.aresult()
    assert result.answer == "Kit says 4200." and result.outcome == "answered"
    assert result.dispatched[0].agent == "kit" and result.dispatched[0].answer == "4200"
    assert result.served_by == ["anthropic:claude-opus-4-6"]
    final = anthropic_server.completion_requests[2].body
    assert final is not None
    assert "4200" in json.dumps(final["messages"][-1])  # Loki's second request carries Kit's answer

    assert state.state_details.flow_run_id is not None
    async with get_client() as client:
        loki_run = await client.read_flow_run(state.state_details.flow_run_id)
        in_loki_run = FlowRunFilter(id=FlowRunFilterId(any_=[loki_run.id]))
        tasks = await client.read_task_runs(flow_run_filter=in_loki_run)
        [kit_run] = [
            r
            for r in await client.read_flow_runs(sort=FlowRunSort.EXPECTED_START_TIME_DESC)
            if r.parent_task_run_id in {t.id for t in tasks}
        ]  # a subflow of Loki's turn
    assert loki_run.name == "agent_turn/loki/tg-42"
    assert {"agent:loki", "source:live", "model:anthropic:claude-opus-4-6"} <= set(loki_run.tags)
    async with get_client() as client:
        [summary] = [a for a in await client.read_artifacts() if a.flow_run_id == loki_run.id]
    report = str(summary.data)  # the UI's summary: who served it, the tools, the cost; not the answer
    assert report.startswith("### loki · answered")
    assert "| served by | anthropic:claude-opus-4-6 |" in report and "| dispatched to | kit |" in report
    assert "| dispatch | yes |" in report and "Kit says 4200." not in report
    assert kit_run.name == "agent_turn/kit/tg-42"
    loki_tasks = sorted(t.name for t in tasks)
    assert sum("request" in name.lower() for name in loki_tasks) == 2, loki_tasks  # model requests as tasks

    log = ScoreLog(team / "store")
    _, rows = log.query(
        "SELECT role, task_id, served_by, input_tokens, json_extract_string(record, '$.outcome') "
        "FROM runs WHERE task_type = 'agent_turn' ORDER BY role"
    )
    assert rows == [
        ("kit", "tg-42", "anthropic:claude-sonnet-4-6", 50, "answered"),
        ("loki", "tg-42", "anthropic:claude-opus-4-6", 130, "answered"),
    ]


@pytestmark_flow
async def test_flow_turn_uses_route_task_through_the_control_plane(
    team: Path, anthropic_server: FakeLLMServer
):
    from tenure.flows.agent_turn import agent_turn

    task_input = {"text": "Invoice #4471 is due Friday", "labels": ["billing", "spam"]}
    anthropic_server.push(
        tool("route_task", {"task_type": "classify", "task_input": task_input}),  # Loki
        tool("final_result", {"label": "billing"}),  # the ground truth answering the routed task
        ok("That one is billing."),  # Loki
    )
    from prefect.client.orchestration import get_client

    state = await cast(  # a coroutine of the State, as in the test above
        "Awaitable[State[TurnResult]]",
        agent_turn("loki", "Classify this email for me", "t-route", return_state=True),
    )
    result = await state.aresult()
    assert result.answer == "That one is billing."
    async with get_client() as client:
        tasks = [
            t.name for t in await client.read_task_runs() if t.flow_run_id == state.state_details.flow_run_id
        ]
    assert any(name.startswith("Call Tool: route_task") for name in tasks), tasks  # the tool call is a task
    assert [(c.name, c.ok) for c in result.tool_calls] == [("route_task", True)]
    _, rows = ScoreLog(team / "store").query(
        "SELECT task_type, role, output FROM runs WHERE task_type != 'agent_turn'"
    )
    assert rows == [("classify", "ground_truth", '"billing"')]


@pytestmark_flow
async def test_flow_turn_falls_back_when_the_first_provider_is_overloaded(
    team: Path, anthropic_server: FakeLLMServer
):
    from tenure.flows.agent_turn import agent_turn

    anthropic_server.push(error(529, "overloaded"), ok("Sonnet here."))
    result = await agent_turn("loki", "hello", "t")
    assert (result.answer, result.served_by) == ("Sonnet here.", ["anthropic:claude-sonnet-4-6"])
    models = []
    for request in anthropic_server.completion_requests:
        assert request.body is not None
        models.append(request.body["model"])
    assert models == ["claude-opus-4-6", "claude-sonnet-4-6"]
    assert load_config().agents["loki"].chain == "default"


@pytestmark_flow
@pytest.mark.usefixtures("shared_export")
async def test_vault_search_tool_returns_indexed_notes(tmp_path: Path):
    from tenure.flows.vault_embed import vault_embed

    home = Env().home
    vault = tmp_path / "vault"
    (vault / "decisions").mkdir(parents=True)
    (vault / "decisions" / "backups.md").write_text(
        "# Backups\n\n## Decision\n\nNightly restic to Hetzner box."
    )
    (vault / "people.md").write_text("# People\n\nDev helps with ZFS.")
    vault_embed(str(vault))

    def script(agent: str, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        answers = returned(messages)
        if not answers:
            return ModelResponse(
                parts=[ToolCallPart("vault_search", {"query": "where do backups go", "k": 1})]
            )
        return ModelResponse(parts=[TextPart(json.dumps(answers[-1]))])

    result = await turn("loki", "backups?", "t", script, team_config(), home)
    (hit,) = json.loads(result.answer)
    assert hit["path"] == "decisions/backups.md" and "restic" in hit["text"] and hit["stale"] is False
    assert [(c.name, c.ok) for c in result.tool_calls] == [("vault_search", True)]
