"""Kit's hands: ``run_python`` and ``run_tests`` in the sandbox (``tenure.agents.sandbox``), each on a
fresh temporary copy of ``scripts/`` or of one project under ``projects/``, with the limits of
``agents.<name>.run_python``. Each run is a ``tool_calls`` row of the score log."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from pydantic_ai import RunContext

from tenure.agents import sandbox
from tenure.agents.deps import TurnDeps
from tenure.agents.files import Refused, confined
from tenure.control.task_types.base import block

__all__ = ["run_python", "run_tests"]


def _source(deps: TurnDeps, project: str | None) -> Path:
    """The folder a run copies: ``projects/<project>``, or ``scripts/``; refused like a file path."""
    if project is None:
        return confined(deps.workspace, ["scripts"], "scripts")
    if not project.strip() or "/" in project.strip("/"):
        raise Refused(f"{project!r} is not a project name: give one folder name under projects/")
    folder = confined(deps.workspace, ["projects"], f"projects/{project.strip('/')}")
    if not folder.is_dir():
        raise Refused(f"there is no project {project!r} under projects/ (list_files projects shows them)")
    return folder


def _report(ran: sandbox.Ran) -> str:
    head = f"exit code {ran.exit_code}" if ran.stopped is None else ran.stopped
    parts = [f"{head} ({ran.seconds:.1f} s)"]
    if ran.stdout:
        parts.append(block("stdout", ran.stdout))
    if ran.stderr:
        parts.append(block("stderr", ran.stderr))
    return "\n".join(parts)


async def _run(ctx: RunContext[TurnDeps], tool: str, project: str | None, code: str | None) -> str:
    deps = ctx.deps
    settings = deps.me.run_python
    target = project or "scripts"
    try:
        source = _source(deps, project)
    except Refused as exc:
        deps.record(tool, False, str(exc), target=target)
        return f"Refused: {exc}."
    limits = sandbox.Limits(settings.timeout_s, settings.memory_mb, settings.max_output_chars)

    def in_sandbox() -> sandbox.Ran:
        with tempfile.TemporaryDirectory(prefix="tenure-sandbox-") as tmp:
            work = Path(tmp)
            if source.is_dir():
                sandbox.copy_confined(source, work)
            return sandbox.run(work, limits, code=code, tests=code is None)

    ran = await asyncio.to_thread(in_sandbox)
    outcome = ran.stopped or f"exit code {ran.exit_code}"
    deps.record(tool, ran.stopped is None, f"{outcome}; walls: {', '.join(ran.walls)}", target=target,
                size=ran.output_bytes)  # fmt: skip
    return _report(ran)


async def run_python(ctx: RunContext[TurnDeps], code: str, project: str | None = None) -> str:
    """Run Python code in a sandbox and get its exit code, output and errors. It runs in a temporary
    copy of scripts/ (or of projects/<project>) with no network, no other processes, and time, CPU and
    memory limits; files it writes are thrown away afterwards (save results with write_file).

    Args:
        code: a whole Python program; print what you want to see.
        project: run inside a copy of projects/<project> instead of scripts/.
    """
    return await _run(ctx, "run_python", project, code)


async def run_tests(ctx: RunContext[TurnDeps], project: str) -> str:
    """Run a project's tests (pytest) in a sandbox: a temporary copy of projects/<project>, no network,
    time and memory limits. Returns pytest's summary and failures.

    Args:
        project: the folder name under projects/.
    """
    return await _run(ctx, "run_tests", project, None)
