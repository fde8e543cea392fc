"""Skills: markdown files in the shared ``skills/`` folder that teach an agent a procedure, loaded only
when needed (progressive disclosure, as current agent tools do it). A turn's instructions list each
skill the agent may use by name and description alone; ``load_skill`` brings one's text in.

A skill is ``skills/<name>.md`` or ``skills/<name>/SKILL.md`` with frontmatter ``name``, ``description``
and optionally ``agents`` (a list of agent names; all agents when absent). A file without a description
is skipped with a warning, since a skill the model cannot judge is a skill it cannot choose.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from pydantic_ai import RunContext

from tenure.agents.deps import TurnDeps
from tenure.agents.workspace import workspace_dir
from tenure.config import TenureConfig
from tenure.memory.notes import split_frontmatter

__all__ = ["Skill", "load_skill", "skills_for", "skills_section"]

log = logging.getLogger(__name__)

MAX_SKILL_CHARS = 40_000


@dataclass(frozen=True)
class Skill:
    name: str
    description: str
    agents: tuple[str, ...]
    """Who may load it; empty for everyone."""
    path: Path


def _skill_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted([*folder.glob("*.md"), *folder.glob("*/SKILL.md")])


def skills_for(home: Path, agent: str, config: TenureConfig) -> list[Skill]:
    """The skills ``agent`` may load, by name."""
    found: dict[str, Skill] = {}
    for path in _skill_files(workspace_dir(home, config.main_agent, config) / "skills"):
        if not path.is_file():
            continue
        meta, _, problem = split_frontmatter(path.read_text(encoding="utf-8", errors="replace"))
        default = path.parent.name if path.name == "SKILL.md" else path.stem
        name, description = (
            str(meta.get("name") or default).strip(),
            " ".join(str(meta.get("description") or "").split()),
        )
        agents = meta.get("agents") or []
        agents = tuple(str(a) for a in (agents if isinstance(agents, list) else [agents]))
        if problem or not description:
            log.warning("skill %s skipped: %s", path, problem or "its frontmatter has no description")
            continue
        if not agents or agent in agents:
            found.setdefault(name, Skill(name, description[:300], agents, path))
    return list(found.values())


def skills_section(home: Path, agent: str, config: TenureConfig) -> str | None:
    """The instructions' list of skills (names and descriptions only), or None when there is none."""
    skills = skills_for(home, agent, config)
    if not skills:
        return None
    lines = "\n".join(f"- {s.name}: {s.description}" for s in skills)
    return f"## Skills (load_skill NAME brings one in when a task needs it)\n{lines}"


def load_skill(ctx: RunContext[TurnDeps], name: str) -> str:
    """Load one of your skills: its full instructions, when the task at hand needs it.

    Args:
        name: the skill's name, as listed under Skills in your instructions.
    """
    deps = ctx.deps
    skills = {s.name: s for s in skills_for(deps.home, deps.agent, deps.config)}
    skill = skills.get(name.strip())
    if skill is None:
        deps.note("load_skill", False, f"{name}: no such skill")
        return f"There is no skill {name!r} for you; yours: {', '.join(skills) or 'none'}."
    _, body, _ = split_frontmatter(skill.path.read_text(encoding="utf-8", errors="replace"))
    deps.note("load_skill", True, name)
    return f"# Skill: {skill.name}\n\n{body.strip()[:MAX_SKILL_CHARS]}"
