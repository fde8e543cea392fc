"""Workspace files for the agents that write and build (Sara, Kit, Loki): ``read_file``, ``list_files``
and ``write_file``, confined to the folders ``agents.<name>.files.folders`` names.

A path is relative to the agent's workspace. It is refused when it is absolute, holds ``..``, or — after
every link in it is resolved, the agent's own links to the shared folders included — lands outside
those folders (a link out of the workspace, or one whose target climbs out with ``..``). The model sees
the reason. Writes are atomic (a temporary file in the same folder, then a rename), capped in size, and
each call, allowed or refused, is a ``tool_calls`` row of the score log.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from pydantic_ai import RunContext

from tenure.agents.deps import TurnDeps
from tenure.atomic import write_atomic
from tenure.control.task_types.base import block

__all__ = ["Refused", "confined", "list_files", "read_file", "write_file"]

MAX_LISTED = 300


class Refused(ValueError):
    """A path or request a tool will not serve; the message is for the model."""


def confined(workspace: Path, folders: list[str], path: str) -> Path:
    """The real path ``path`` names, if it lies inside one of ``folders`` of ``workspace``."""
    text = path.strip()
    if not text:
        raise Refused(f"give a path inside one of your folders: {', '.join(folders)}")
    rel = PurePosixPath(text)
    if rel.is_absolute() or text.startswith("~") or Path(text).is_absolute():
        raise Refused(f"{path!r} is absolute: give a path inside your workspace, e.g. {folders[0]}/notes.md")
    if ".." in rel.parts:
        raise Refused(f"{path!r} climbs out with '..': give a path inside your workspace")
    real = (workspace / rel).resolve()
    for folder in folders:
        root = (workspace / folder).resolve()
        if real == root or real.is_relative_to(root):
            return real
    linked = real != (workspace / rel).absolute()
    where = "leads outside your folders once its links are followed" if linked else "is outside your folders"
    raise Refused(f"{path!r} {where} (you may use {', '.join(folders)})")


def _guarded(ctx: RunContext[TurnDeps], tool: str, path: str) -> Path | str:
    """The confined path, or the refusal (recorded) as the tool's answer."""
    deps = ctx.deps
    try:
        return confined(deps.workspace, deps.me.files.folders, path)
    except Refused as exc:
        deps.record(tool, False, str(exc), target=path)
        return f"Refused: {exc}."


def read_file(ctx: RunContext[TurnDeps], path: str) -> str:
    """Read a text file from your workspace folders.

    Args:
        path: relative to your workspace, e.g. projects/site/README.md or content/drafts/post.md.
    """
    real = _guarded(ctx, "read_file", path)
    if isinstance(real, str):
        return real
    limit = ctx.deps.me.files.max_read_bytes
    if not real.is_file():
        ctx.deps.record("read_file", False, "no such file", target=path)
        return f"There is no file {path!r} (list_files shows what there is)."
    with real.open("rb") as handle:
        data = handle.read(limit + 1)
    if b"\x00" in data[:8192]:
        ctx.deps.record("read_file", False, "binary file", target=path)
        return f"{path!r} is a binary file; only text files can be read."
    cut = len(data) > limit
    text = data[:limit].decode("utf-8", errors="replace")
    ctx.deps.record("read_file", True, "read" + (" (cut)" if cut else ""), target=path, size=len(text))
    note = f"\n[cut at {limit:,} bytes of {real.stat().st_size:,}]" if cut else ""
    return block("file", text) + note


def list_files(ctx: RunContext[TurnDeps], path: str = "") -> str:
    """List a folder of your workspace: each entry with its size; folders end with '/'.

    Args:
        path: a folder inside your workspace, e.g. projects or content/drafts; empty for your folders.
    """
    deps = ctx.deps
    if not path.strip():
        return "\n".join(f"{folder}/" for folder in deps.me.files.folders)
    real = _guarded(ctx, "list_files", path)
    if isinstance(real, str):
        return real
    if not real.is_dir():
        deps.record("list_files", False, "not a folder", target=path)
        return f"{path!r} is not a folder."
    entries = sorted(real.iterdir(), key=lambda p: (not p.is_dir(), p.name))
    lines = [
        f"{e.name}/" if e.is_dir() else f"{e.name} ({e.stat().st_size:,} bytes)"
        for e in entries[:MAX_LISTED]
        if e.is_dir() or e.is_file()
    ]
    if len(entries) > MAX_LISTED:
        lines.append(f"… and {len(entries) - MAX_LISTED} more")
    deps.record("list_files", True, f"{len(entries)} entries", target=path)
    return "\n".join(lines) or "(empty)"


def write_file(ctx: RunContext[TurnDeps], path: str, content: str) -> str:
    """Create or replace a text file in your workspace folders (folders are created as needed).

    Args:
        path: relative to your workspace, e.g. content/drafts/launch-post.md.
        content: the whole new content of the file.
    """
    deps = ctx.deps
    real = _guarded(ctx, "write_file", path)
    if isinstance(real, str):
        return real
    data = content.encode("utf-8")
    limit = deps.me.files.max_write_bytes
    if len(data) > limit:
        deps.record("write_file", False, f"{len(data):,} bytes is over the {limit:,}-byte limit", target=path)
        return f"Refused: {len(data):,} bytes is over your {limit:,}-byte limit per file."
    if real.is_dir() or real in {(deps.workspace / f).resolve() for f in deps.me.files.folders}:
        deps.record("write_file", False, "a folder", target=path)
        return f"Refused: {path!r} is a folder; name a file inside it."
    real.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(real, data)
    deps.record("write_file", True, f"wrote {len(data):,} bytes", target=path, size=len(data))
    return f"Saved {path} ({len(data):,} bytes)."
