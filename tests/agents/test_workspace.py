"""Workspaces: the production layout, idempotent init, repaired links, kept personas, refused clobbering."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenure.agents.workspace import SHARED, WorkspaceError, init_workspaces, inspect
from tenure.config import TenureConfig

CONFIG = TenureConfig()
SPECIALISTS = ("archie", "sara", "kit", "liv")


def test_init_lays_out_the_main_workspace_and_linked_specialists(tmp_path: Path):
    done = init_workspaces(tmp_path, CONFIG)
    main = tmp_path / "workspace"
    assert (main / "MEMORY.md").read_text().startswith("# MEMORY")
    for item in ("projects", "content", "skills", "scripts"):
        assert (main / item).is_dir() and not (main / item).is_symlink()
    assert (main / "SOUL.md").read_text().splitlines()[1].startswith("# ")
    for agent in SPECIALISTS:
        ws = tmp_path / f"workspace-{agent}"
        assert (ws / "SOUL.md").is_file() and not (ws / "SOUL.md").is_symlink()
        assert (ws / "AGENTS.md").is_file()
        for item in SHARED:
            assert str((ws / item).readlink()) == f"../workspace/{item}"
            assert (ws / item).resolve() == (main / item).resolve()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "workspace",
        *(f"workspace-{a}" for a in sorted(SPECIALISTS)),
    ]
    assert len(done) == 5 + 5 * 2 + 4 * 5  # shared items, persona files, links
    assert all(state.ok for state in inspect(tmp_path, CONFIG))


def test_memory_written_through_one_workspace_is_read_through_every_other(tmp_path: Path):
    init_workspaces(tmp_path, CONFIG)
    with (tmp_path / "workspace-kit" / "MEMORY.md").open("a") as f:
        f.write("\nKit was here.\n")
    (tmp_path / "workspace-sara" / "content" / "draft.md").write_text("a draft")
    for ws in ["workspace", *(f"workspace-{a}" for a in SPECIALISTS)]:
        assert "Kit was here." in (tmp_path / ws / "MEMORY.md").read_text()
        assert (tmp_path / ws / "content" / "draft.md").read_text() == "a draft"


def test_rerun_is_a_no_op_and_keeps_edited_personas(tmp_path: Path):
    init_workspaces(tmp_path, CONFIG)
    soul = tmp_path / "workspace-kit" / "SOUL.md"
    soul.write_text("# Kit\n\nMy own words.\n")
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if not p.is_symlink()}
    assert init_workspaces(tmp_path, CONFIG) == []
    assert soul.read_text() == "# Kit\n\nMy own words.\n"
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if not p.is_symlink()} == before


def test_broken_and_wrong_links_are_repaired(tmp_path: Path):
    init_workspaces(tmp_path, CONFIG)
    liv = tmp_path / "workspace-liv"
    (liv / "skills").unlink()
    (liv / "skills").symlink_to("../nowhere/skills")  # broken and wrong
    (liv / "scripts").unlink()  # missing
    states = {s.agent: s for s in inspect(tmp_path, CONFIG)}
    assert {link.item: link.status for link in states["liv"].links if link.status != "ok"} == {
        "skills": "wrong",
        "scripts": "missing",
    }
    done = init_workspaces(tmp_path, CONFIG)
    assert done == [
        f"repaired {liv / 'skills'} -> ../workspace/skills",
        f"linked {liv / 'scripts'} -> ../workspace/scripts",
    ]
    assert all(state.ok for state in inspect(tmp_path, CONFIG))


def test_a_real_file_where_a_link_belongs_is_refused_and_nothing_is_touched(tmp_path: Path):
    init_workspaces(tmp_path, CONFIG)
    memory = tmp_path / "workspace-archie" / "MEMORY.md"
    memory.unlink()
    memory.write_text("Archie's private notes")
    with pytest.raises(WorkspaceError) as err:
        init_workspaces(tmp_path, CONFIG)
    assert str(err.value) == (
        f"{memory}: a real file sits where the link to ../workspace/MEMORY.md belongs; "
        f"move it into {tmp_path / 'workspace'} and rerun"
    )
    assert memory.read_text() == "Archie's private notes"


def test_a_user_defined_agent_gets_a_generated_persona(tmp_path: Path):
    from tenure.config import parse_config

    config = parse_config({"agents": {"maya": {"role": "travel planning", "emoji": "🧭"}}})
    init_workspaces(tmp_path, config)
    assert "travel planning" in (tmp_path / "workspace-maya" / "SOUL.md").read_text()
    assert str((tmp_path / "workspace-maya" / "projects").readlink()) == "../workspace/projects"
