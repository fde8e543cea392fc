"""Reading a vault: which files count, frontmatter, links, dates, and bad files that must not stop a run."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from tenure.memory.notes import Note, Unreadable, read_note, scan
from tenure.resources import data_path


def write(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def read(root: Path, rel: str, max_bytes: int = 2_000_000) -> Note | Unreadable:
    state = next(s for s in scan(root) if s.path == rel)
    return read_note(root, state, max_bytes)


def test_scan_skips_dot_folders_non_markdown_and_user_globs(tmp_path: Path):
    for rel in [
        "daily/2026-01-02.md",
        "projects/atlas.md",
        "projects/archive/old.md",
        "drafts/x.md",
        ".obsidian/workspace.md",
        ".trash/deleted.md",
        "projects/.hidden.md",
        "people/photo.png",
        "root.md",
    ]:
        write(tmp_path, rel, "# x\n\ntext")
    assert sorted(s.path for s in scan(tmp_path)) == [
        "daily/2026-01-02.md",
        "drafts/x.md",
        "projects/archive/old.md",
        "projects/atlas.md",
        "root.md",
    ]
    assert sorted(s.path for s in scan(tmp_path, ["drafts/", "projects/archive/*"])) == [
        "daily/2026-01-02.md",
        "projects/atlas.md",
        "root.md",
    ]


def test_frontmatter_tags_aliases_date_title_and_links(tmp_path: Path):
    write(
        tmp_path,
        "projects/atlas.md",
        "---\ntitle: Project Atlas\ntags: [billing, '#prefect']\naliases: Atlas, The Billing Move\n"
        "date: 2026-03-04\n---\n# Atlas\n\n"
        "See [[Dev Patel]] and [[decisions/use-duckdb#Why|the DuckDB call]].\n"
        "Again [[Dev Patel|Dev]].\n",
    )
    note = read(tmp_path, "projects/atlas.md")
    assert isinstance(note, Note) and not note.warnings
    assert note.title == "Project Atlas" and note.folder == "projects"
    assert note.tags == ("billing", "prefect")
    assert note.aliases == ("Atlas", "The Billing Move")
    assert note.date == dt.date(2026, 3, 4)
    assert note.links == ("Dev Patel", "decisions/use-duckdb")
    assert note.body.startswith("# Atlas")


def test_daily_note_date_comes_from_its_file_name_and_title_from_the_stem(tmp_path: Path):
    write(tmp_path, "daily/2026-11-13.md", "## Standup\n\nShipped the gate.")
    write(tmp_path, "notes.md", "---\ntags: a b  c\n---\nplain")
    daily = read(tmp_path, "daily/2026-11-13.md")
    assert isinstance(daily, Note)
    assert daily.date == dt.date(2026, 11, 13) and daily.title == "2026-11-13" and daily.tags == ()
    other = read(tmp_path, "notes.md")
    assert isinstance(other, Note)
    assert other.date is None and other.folder == "" and other.tags == ("a", "b", "c")


def test_binary_file_named_md_is_skipped_with_its_reason(tmp_path: Path):
    write(tmp_path, "img.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    item = read(tmp_path, "img.md")
    assert isinstance(item, Unreadable) and "binary" in item.reason


def test_invalid_utf8_is_replaced_and_named(tmp_path: Path):
    write(tmp_path, "latin.md", "## Caf\xe9\n\nna\xefve text".encode("latin-1"))
    note = read(tmp_path, "latin.md")
    assert isinstance(note, Note)
    assert "\ufffd" in note.body and "text" in note.body
    assert note.warnings == ("latin.md: invalid UTF-8 at byte 6; undecodable bytes replaced",)


def test_a_huge_note_is_truncated_at_a_line_end_with_a_warning(tmp_path: Path):
    line = "x" * 99 + "\n"
    write(tmp_path, "huge.md", line * 50_000)  # 5 MB
    note = read(tmp_path, "huge.md", max_bytes=100_000)
    assert isinstance(note, Note)
    assert len(note.body) == 99_999 and note.body.endswith("x")
    assert note.warnings == ("huge.md: truncated to the first 99,999 of 5,000,000 bytes",)
    assert note.size == 5_000_000  # the digest covers the whole file, so an edit past the cut is noticed


def test_broken_frontmatter_is_ignored_with_a_warning_and_the_body_kept(tmp_path: Path):
    write(tmp_path, "broken.md", "---\ntags: [unclosed\ntitle: x: y\n---\n## Body\n\nstill here")
    write(tmp_path, "list.md", "---\n- just\n- a list\n---\nbody")
    broken = read(tmp_path, "broken.md")
    assert isinstance(broken, Note)
    assert broken.body == "## Body\n\nstill here" and broken.tags == ()
    assert broken.warnings[0].startswith("broken.md: frontmatter is not valid YAML (line ")
    listed = read(tmp_path, "list.md")
    assert isinstance(listed, Note)
    assert listed.body == "body"
    assert listed.warnings == ("list.md: frontmatter is not a mapping of keys; indexed without it",)


def test_the_shipped_sample_vault_reads_cleanly():
    root = data_path("vault")
    items = [read_note(root, s, 2_000_000) for s in scan(root)]
    assert len(items) == 100
    assert all(isinstance(n, Note) and not n.warnings for n in items)
    notes = [n for n in items if isinstance(n, Note)]  # all of them, as just checked
    assert {n.folder for n in notes} == {"daily", "projects", "decisions", "people", "patterns"}
    assert all(n.date for n in notes if n.folder == "daily")


def _odd_vault(tmp_path: Path) -> tuple[Path, Path]:
    """A vault with one good note and every kind of file a pass must not read, all real."""
    vault, outside = tmp_path / "vault", tmp_path / "secret.md"
    (vault / "notes").mkdir(parents=True)
    (vault / "notes" / "good.md").write_text("# Good\nbody\n")
    outside.write_text("root:x:0:0:root:/root:/bin/bash\n")
    (vault / "dangling.md").symlink_to(vault / "gone.md")
    (vault / "loop-a.md").symlink_to(vault / "loop-b.md")
    (vault / "loop-b.md").symlink_to(vault / "loop-a.md")
    os.mkfifo(vault / "pipe.md")
    (vault / "passwd.md").symlink_to(outside)
    (vault / "alias.md").symlink_to(vault / "notes" / "good.md")
    (vault / "linked-folder").symlink_to(tmp_path, target_is_directory=True)
    return vault, outside


def test_scan_reads_regular_notes_and_links_within_the_vault_only(tmp_path: Path):
    vault, outside = _odd_vault(tmp_path)
    warnings: list[str] = []
    found = [f.path for f in scan(vault, warnings=warnings)]
    assert found == ["alias.md", "notes/good.md"]
    by_file = {w.split(":", 1)[0]: w for w in warnings}
    assert set(by_file) == {"dangling.md", "loop-a.md", "loop-b.md", "pipe.md", "passwd.md"}
    assert "does not exist" in by_file["dangling.md"] and "loops" in by_file["loop-a.md"]
    assert "FIFO" in by_file["pipe.md"] and f"out of the vault (to {outside})" in by_file["passwd.md"]

    warnings.clear()
    assert [f.path for f in scan(vault, follow_links=False, warnings=warnings)] == ["notes/good.md"]
    assert "vault.follow_links is off" in next(w for w in warnings if w.startswith("alias.md"))
