"""The team's shared tools: the vault, the shared memory, dispatching to a teammate, and routing a
commodity task to the control plane."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic_ai import ModelRetry, RunContext

from tenure.agents.deps import TurnDeps
from tenure.agents.memory import append_entry, read_memory

__all__ = ["dispatch", "memory_append", "memory_read", "route_task", "vault_search"]

MEMORY_BUDGET = 6000
"""Characters of MEMORY.md (newest entries first) in a turn's instructions, and what memory_read returns."""


async def vault_search(
    ctx: RunContext[TurnDeps],
    query: str,
    k: int = 5,
    folder: str | None = None,
    since: str | None = None,
    mode: Literal["hybrid", "keyword", "vector"] = "hybrid",
) -> list[dict[str, Any]] | str:
    """Search the user's markdown notes vault.

    Args:
        query: what to look for, in plain words or exact names.
        k: how many notes to return (1-10).
        folder: only notes in this top-level folder, e.g. daily, projects, decisions, people, patterns.
        since: only notes dated on or after this day (YYYY-MM-DD).
        mode: hybrid (keywords and meaning, the default), keyword (best for exact ids such as
            ticket or invoice numbers), or vector (meaning only).
    """
    from tenure.memory.search import search
    from tenure.store.vault import VaultStore

    store = VaultStore.for_home(ctx.deps.home)
    if not store.exists():
        ctx.deps.note("vault_search", False, "no vault index")
        return "The vault is not indexed yet (tenure vault index PATH); answer without it."
    try:
        day = dt.date.fromisoformat(since) if since else None
        hits = search(
            store, query, max(1, min(k, 10)), mode=mode, folders=(folder,) if folder else (), since=day
        )
    except ValueError as exc:
        raise ModelRetry(str(exc)) from None
    ctx.deps.note("vault_search", True, f"{query!r}: {len(hits)} hits")
    return [
        {k: v for k, v in h.as_json().items() if k in ("path", "headings", "date", "stale", "text")}
        for h in hits
    ]


def memory_read(ctx: RunContext[TurnDeps]) -> str:
    """Read the team's shared long-term memory (MEMORY.md), newest entries first."""
    ctx.deps.note("memory_read", True, "MEMORY.md")
    return read_memory(ctx.deps.memory_path, MEMORY_BUDGET)


def memory_append(ctx: RunContext[TurnDeps], entry: str) -> str:
    """Add one dated entry to the team's shared memory: a durable fact, decision or preference.

    Args:
        entry: the fact in one or a few sentences, with absolute dates; never secrets.
    """
    try:
        heading = append_entry(ctx.deps.memory_path, ctx.deps.agent, entry)
    except ValueError as exc:
        raise ModelRetry(str(exc)) from None
    ctx.deps.note("memory_append", True, entry)
    return f"saved as {heading}"


async def dispatch(ctx: RunContext[TurnDeps], agent: str, request: str) -> str:
    """Hand a self-contained request to a teammate and get their answer back.

    Args:
        agent: the teammate's name.
        request: everything they need to know to answer, in one message.
    """
    deps, dispatcher = ctx.deps, ctx.deps.dispatcher
    team = [a for a in deps.config.agents if a != deps.agent]
    if agent == deps.agent:
        refusal = "you cannot dispatch to yourself; answer it yourself"
    elif agent not in deps.config.agents:
        refusal = f"there is no agent named {agent!r}; the team: {', '.join(team)}"
    elif deps.depth >= deps.config.max_dispatch_depth or dispatcher is None:
        refusal = f"dispatch depth {deps.config.max_dispatch_depth} reached; answer with what you have"
    else:
        refusal = None
    if refusal or dispatcher is None:
        deps.note("dispatch", False, f"{agent}: {refusal}")
        return f"Not dispatched: {refusal}."
    result = await dispatcher(agent, request, deps.thread, deps.depth + 1)
    deps.dispatched.append(result)
    deps.note("dispatch", result.outcome == "answered", f"{agent}: {result.outcome}")
    if result.outcome != "answered":
        return f"{agent} could not answer: {result.message}"
    return result.answer


async def route_task(ctx: RunContext[TurnDeps], task_type: str, task_input: dict[str, Any]) -> Any:
    """Send a commodity task to the control plane, which answers it with the cheapest proven model.

    Args:
        task_type: a task type of the control plane, e.g. classify, extract, format, summarize,
            analyze, rag_synthesis or code_transform.
        task_input: the task's input fields as the type defines them (e.g. classify: text and labels).
    """
    from tenure.control.routing import RoutingFailed
    from tenure.control.routing import route_task as route
    from tenure.control.task import TaskError, parse_task

    try:
        task = parse_task(task_input, task_type=task_type)
        routed = await route(task, ctx.deps.config, ctx.deps.home)
    except TaskError as exc:
        raise ModelRetry(str(exc)) from None
    except RoutingFailed as exc:
        ctx.deps.note("route_task", False, f"{task_type}: {exc}")
        return f"The control plane could not answer: {exc}"
    ctx.deps.note("route_task", True, f"{task_type}: served by {routed.served_by}")
    return routed.output
