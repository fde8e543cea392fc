"""Agent workspaces laid out as the production system does: one main workspace, symlinks to it.

``$TENURE_HOME/workspace/`` belongs to the main agent and holds the shared items: ``MEMORY.md``,
``projects/``, ``content/``, ``skills/`` and ``scripts/``. Every other agent gets
``$TENURE_HOME/workspace-<name>/`` with its own ``SOUL.md`` (persona) and ``AGENTS.md`` (rules) and a
relative symlink ``<item> -> ../workspace/<item>`` for each shared item, so a line Loki adds to
MEMORY.md is what Kit reads next. ``init`` is idempotent, repairs broken or wrong links, never
overwrites a persona file that exists, and refuses to replace a real file or folder where a link
belongs (that would throw away the user's data).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tenure.config import TenureConfig
from tenure.resources import data_path

__all__ = [
    "SHARED",
    "LinkState",
    "WorkspaceError",
    "WorkspaceState",
    "init_workspaces",
    "inspect",
    "workspace_dir",
]

SHARED = ("MEMORY.md", "projects", "content", "skills", "scripts")
PERSONA = ("SOUL.md", "AGENTS.md")
TEMPLATES = data_path("agents")
MEMORY_HEADER = "# MEMORY\n\nShared long-term memory of the team: dated entries, appended by the agents.\n"

Status = Literal["ok", "missing", "broken", "wrong", "blocked"]


class WorkspaceError(RuntimeError):
    """A workspace cannot be laid out without destroying something the user made."""


@dataclass(frozen=True)
class LinkState:
    item: str
    status: Status
    detail: str = ""


@dataclass(frozen=True)
class WorkspaceState:
    agent: str
    path: Path
    persona: dict[str, bool]
    """SOUL.md / AGENTS.md present?"""
    links: list[LinkState]

    @property
    def ok(self) -> bool:
        return all(self.persona.values()) and all(link.status == "ok" for link in self.links)


def workspace_dir(home: Path, agent: str, config: TenureConfig) -> Path:
    return home / ("workspace" if agent == config.main_agent else f"workspace-{agent}")


def _persona_text(agent: str, file: str, config: TenureConfig) -> str:
    template = TEMPLATES / agent / file
    if template.is_file():
        return template.read_text(encoding="utf-8")
    role = config.agents[agent].role or "a member of the team"
    if file == "SOUL.md":
        return f"# {agent.capitalize()}\n\nYou are {agent.capitalize()}, responsible for {role}.\n"
    return (
        f"# Rules for {agent.capitalize()}\n\nAnswer briefly; cite vault notes by path when you use them.\n"
    )


def _link_state(link: Path, target: str) -> LinkState:
    item = link.name
    if link.is_symlink():
        actual = str(link.readlink())
        if actual != target:
            return LinkState(item, "wrong", f"points to {actual}, expected {target}")
        if not link.exists():
            return LinkState(item, "broken", f"{target} does not exist")
        return LinkState(item, "ok", f"-> {target}")
    if link.exists():
        kind = "folder" if link.is_dir() else "file"
        return LinkState(item, "blocked", f"a real {kind} sits where the link to {target} belongs")
    return LinkState(item, "missing")


def inspect(home: Path, config: TenureConfig) -> list[WorkspaceState]:
    """The state of every agent's workspace, changing nothing."""
    main = workspace_dir(home, config.main_agent, config)
    states = []
    for agent in config.agents:
        path = workspace_dir(home, agent, config)
        persona = {f: (path / f).is_file() for f in PERSONA}
        if agent == config.main_agent:
            links = [
                LinkState(item, "ok" if (main / item).exists() else "missing", "shared (main workspace)")
                for item in SHARED
            ]
        else:
            links = [_link_state(path / item, f"../{main.name}/{item}") for item in SHARED]
        states.append(WorkspaceState(agent, path, persona, links))
    return states


def init_workspaces(home: Path, config: TenureConfig) -> list[str]:
    """Create or repair every workspace; returns what was done (empty when nothing needed doing)."""
    main = workspace_dir(home, config.main_agent, config)
    blocked = [
        f"{state.path / link.item}: {link.detail}; move it into {main} and rerun"
        for state in inspect(home, config)
        for link in state.links
        if link.status == "blocked"
    ]
    if blocked:
        raise WorkspaceError("\n".join(blocked))
    done: list[str] = []
    main.mkdir(parents=True, exist_ok=True)
    for item in SHARED:
        path = main / item
        if path.exists():
            continue
        if item.endswith(".md"):
            path.write_text(MEMORY_HEADER, encoding="utf-8")
        else:
            path.mkdir()
        done.append(f"created {path}")
    for agent in config.agents:
        path = workspace_dir(home, agent, config)
        path.mkdir(parents=True, exist_ok=True)
        for file in PERSONA:
            if not (path / file).exists():
                (path / file).write_text(_persona_text(agent, file, config), encoding="utf-8")
                done.append(f"created {path / file}")
        if agent == config.main_agent:
            continue
        for item in SHARED:
            link, target = path / item, f"../{main.name}/{item}"
            state = _link_state(link, target)
            if state.status in ("wrong", "broken"):
                link.unlink()
            if state.status != "ok":
                link.symlink_to(target)
                done.append(f"{'repaired' if state.status != 'missing' else 'linked'} {link} -> {target}")
    return done
