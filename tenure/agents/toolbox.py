"""Every tool an agent can be given, by the name ``agents.<name>.tools`` uses. Each is a plain
pydantic-ai tool; in the ``agent_turn`` flow each call is a Prefect task run."""

from __future__ import annotations

from pydantic_ai import Tool

from tenure.agents.code_tools import run_python, run_tests
from tenure.agents.data_tools import inbox_digest, query_scores, scoreboard
from tenure.agents.deps import TurnDeps
from tenure.agents.files import list_files, read_file, write_file
from tenure.agents.skills import load_skill
from tenure.agents.team_tools import dispatch, memory_append, memory_read, route_task, vault_search
from tenure.agents.web import fetch_url
from tenure.config_tools import TOOL_NAMES

__all__ = ["TOOLBOX"]

TOOLBOX: dict[str, Tool[TurnDeps]] = {
    "vault_search": Tool(vault_search),
    "memory_read": Tool(memory_read),
    "memory_append": Tool(memory_append),
    # a dispatch runs a whole subflow; as a task of its own it would nest that flow inside a task
    "dispatch": Tool(dispatch, metadata={"prefect": False}),
    "route_task": Tool(route_task),
    "load_skill": Tool(load_skill),
    "read_file": Tool(read_file),
    "list_files": Tool(list_files),
    "write_file": Tool(write_file),
    "query_scores": Tool(query_scores),
    "scoreboard": Tool(scoreboard),
    "run_python": Tool(run_python),
    "run_tests": Tool(run_tests),
    "fetch_url": Tool(fetch_url),
    "inbox_digest": Tool(inbox_digest),
}
assert set(TOOLBOX) == set(TOOL_NAMES), "every tool name the config accepts has a tool"
