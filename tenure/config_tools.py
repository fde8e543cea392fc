"""Which tools each agent has, and the walls of each: ``agents.<name>.tools`` lists them, and
``[agents.<name>.<tool>]`` tables set where the file tools reach, which domains ``fetch_url`` may read,
the sandbox limits of ``run_python`` and ``run_tests``, and the caps of ``query_scores``. A tool an agent
does not list is never offered to its model; the defaults give each role the tools of its job."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, StringConstraints

from tenure.config_types import Strict

__all__ = [
    "ROLE_TOOLS",
    "TOOL_NAMES",
    "FetchSettings",
    "FileSettings",
    "PythonSettings",
    "ScoreQuerySettings",
    "ToolName",
]

ToolName = Literal[
    "vault_search",
    "memory_read",
    "memory_append",
    "dispatch",
    "route_task",
    "load_skill",
    "read_file",
    "list_files",
    "write_file",
    "query_scores",
    "scoreboard",
    "run_python",
    "run_tests",
    "fetch_url",
    "inbox_digest",
]
TOOL_NAMES: tuple[ToolName, ...] = get_args(ToolName)

_TEAM: list[ToolName] = ["vault_search", "memory_read", "memory_append", "route_task", "load_skill"]
_FILES: list[ToolName] = ["read_file", "list_files", "write_file"]
ROLE_TOOLS: dict[str, list[ToolName]] = {
    "": _TEAM,  # an agent the user adds without a tools list
    "loki": [*_TEAM, "dispatch", *_FILES],
    "archie": [*_TEAM, "query_scores", "scoreboard"],
    "sara": [*_TEAM, *_FILES],
    "kit": [*_TEAM, *_FILES, "run_python", "run_tests"],
    "liv": [*_TEAM, "fetch_url", "inbox_digest"],
}
"""The default team's tools by role: everyone searches the vault, shares memory, routes commodity tasks
and loads skills; Loki dispatches; Sara and Kit work on files; Kit runs code; Archie reads the score
log; Liv reads the web and the inbox digest."""


Folder = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")]
Domain = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", to_lower=True)]


class FileSettings(Strict):
    """``read_file``, ``list_files`` and ``write_file``: only inside these workspace folders (the shared
    ones reached through the agent's links), after every link in the path is resolved. ``skills`` is
    not among them by default: a skill becomes instructions for every agent that loads it, so only the
    user writes them."""

    folders: Annotated[list[Folder], Field(min_length=1)] = ["projects", "content", "scripts"]
    max_write_bytes: Annotated[int, Field(ge=1, le=50_000_000)] = 1_000_000
    max_read_bytes: Annotated[int, Field(ge=1, le=10_000_000)] = 200_000
    """A longer file is returned cut, saying so."""


class FetchSettings(Strict):
    """``fetch_url``: http(s) on these domains (and their subdomains) only, redirects included."""

    domains: list[Domain] = ["wikipedia.org", "arxiv.org", "docs.python.org", "github.com", "pypi.org"]
    max_bytes: Annotated[int, Field(ge=1000, le=50_000_000)] = 2_000_000
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 20.0
    max_chars: Annotated[int, Field(ge=100, le=200_000)] = 20_000
    """Characters of the page's text handed to the model."""


class PythonSettings(Strict):
    """``run_python`` and ``run_tests``: each run in a fresh temporary copy, behind these limits."""

    timeout_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    memory_mb: Annotated[int, Field(ge=128, le=65536)] = 1024
    max_output_chars: Annotated[int, Field(ge=100, le=200_000)] = 10_000


class ScoreQuerySettings(Strict):
    """``query_scores``: one read-only SELECT over the score log's views, as ``tenure sql`` runs it."""

    max_rows: Annotated[int, Field(ge=1, le=10_000)] = 200
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 10.0
