"""One agent turn: persona and shared memory as instructions, the thread's history, tools, limits.

``run_turn`` is plain pydantic-ai: an ``Agent`` on the agent's fallback chain (or a model handed in)
with the tools its config allows. It knows nothing of Prefect: the ``agent_turn`` flow hands it
pydantic-ai's ``PrefectDurability`` capability, so there every model request and tool call is a Prefect
task (visible, retried, and reused when a failed flow run is retried). Limits are pydantic-ai's
``UsageLimits`` (requests, tool calls, tokens, and dollars priced from tenure's table); a turn that
reaches one stops with a message naming the limit and its config key, not a trace.
"""

from __future__ import annotations

import datetime as dt
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from pydantic_ai import Agent, CostNotFoundWarning, ModelRetry, RunContext, Tool, UsageLimits
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.exceptions import FallbackExceptionGroup, ModelAPIError, UsageLimitExceeded
from pydantic_ai.models import Model

from tenure.agents.memory import append_entry, read_memory
from tenure.agents.workspace import init_workspaces, workspace_dir
from tenure.config import TenureConfig
from tenure.models import ChainUnavailable, Skip, build_chain
from tenure.models.call import call_record
from tenure.models.result import recording
from tenure.store import RunRow
from tenure.store.threads import ThreadStore

__all__ = ["TOOLBOX", "Dispatcher", "ToolCall", "TurnDeps", "TurnResult", "run_turn", "turn_run"]

MEMORY_BUDGET = 6000
"""Characters of MEMORY.md (newest entries first) in a turn's instructions."""


class ToolCall(BaseModel):
    name: str
    ok: bool
    detail: str


Outcome = Literal["answered", "limit", "failed"]


class TurnResult(BaseModel):
    """What a turn did: the answer, who served it, what it cost, which tools it used, how it ended."""

    agent: str
    thread: str
    answer: str
    outcome: Outcome
    message: str | None = None
    """Why a turn stopped early or failed, in words for the user."""
    served_by: list[str] = []
    skipped: list[str] = []
    """Links of the chain that could not be tried (no key, …), with the reason."""
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    """This turn's own model calls; dispatched turns report theirs."""
    tool_calls: list[ToolCall] = []
    tools_note: str | None = None
    """Set when a model that cannot call tools served (the chain's local end)."""
    dispatched: list[TurnResult] = []
    latency_ms: float = 0.0


Dispatcher = Callable[[str, str, str, int], Awaitable[TurnResult]]
"""(agent, request, thread, depth) → the dispatched agent's turn; the flow layer runs it as a subflow."""


@dataclass
class TurnDeps:
    agent: str
    thread: str
    depth: int
    home: Path
    config: TenureConfig
    dispatcher: Dispatcher | None = None
    calls: list[ToolCall] = field(default_factory=list)
    dispatched: list[TurnResult] = field(default_factory=list)

    def note(self, name: str, ok: bool, detail: str) -> None:
        self.calls.append(ToolCall(name=name, ok=ok, detail=detail[:200]))

    @property
    def memory_path(self) -> Path:
        return memory_path(self.home, self.config)


def memory_path(home: Path, config: TenureConfig) -> Path:
    """The shared MEMORY.md: the real file in the main workspace (the others link to it)."""
    return workspace_dir(home, config.main_agent, config) / "MEMORY.md"


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


TOOLBOX: dict[str, Tool[TurnDeps]] = {
    "vault_search": Tool(vault_search),
    "memory_read": Tool(memory_read),
    "memory_append": Tool(memory_append),
    # a dispatch runs a whole subflow; as a task of its own it would nest that flow inside a task
    "dispatch": Tool(dispatch, metadata={"prefect": False}),
    "route_task": Tool(route_task),
}


def instructions(agent: str, config: TenureConfig, home: Path) -> str:
    """SOUL.md, AGENTS.md, the team, and the newest shared memory: what the agent knows before the message."""
    ws = workspace_dir(home, agent, config)
    parts = [(ws / f).read_text(encoding="utf-8") for f in ("SOUL.md", "AGENTS.md") if (ws / f).is_file()]
    me = config.agents[agent]
    if not parts:
        parts.append(f"You are {agent.capitalize()}, responsible for {me.role or 'helping the user'}.")
    team = "\n".join(f"- {name}: {a.role}" for name, a in config.agents.items() if name != agent)
    memory = read_memory(memory_path(home, config), MEMORY_BUDGET)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts += [f"## Your teammates\n{team}", f"## Shared memory (newest first)\n{memory}", f"## Now\n{now}"]
    return "\n\n".join(p.strip() for p in parts)


def build_agent(
    agent: str, model: Model, config: TenureConfig, capabilities: Sequence[AbstractCapability[TurnDeps]] = ()
) -> Agent[TurnDeps, str]:
    """The pydantic-ai agent for ``agent``: ``model``, its allowed tools, and the capabilities handed in
    (the flow's durability)."""
    return Agent(
        model,
        name=agent,
        deps_type=TurnDeps,
        output_type=str,
        tools=[TOOLBOX[t] for t in config.agents[agent].tools],
        capabilities=list(capabilities),
    )


def _limits(agent: str, config: TenureConfig) -> UsageLimits:
    limits = config.agents[agent].limits
    return UsageLimits(
        request_limit=limits.max_requests,
        tool_calls_limit=limits.max_tool_calls,
        total_tokens_limit=limits.max_tokens,
        cost_limit=Decimal(str(limits.max_usd)),
    )


_LIMIT_KEYS = {"request": "max_requests", "tool": "max_tool_calls", "token": "max_tokens", "cost": "max_usd"}


def _limit_message(agent: str, exc: UsageLimitExceeded) -> str:
    text = str(exc).split(". ")[0].rstrip(".")  # pydantic-ai adds advice and a docs link
    key = next((k for word, k in _LIMIT_KEYS.items() if word in text), "")
    where = f"agents.{agent}.limits.{key}"
    return f"{agent.capitalize()} stopped this turn at a limit: {text} ({where} in tenure.toml)"


async def run_turn(
    agent: str,
    message: str,
    thread: str,
    *,
    config: TenureConfig,
    home: Path,
    depth: int = 0,
    dispatcher: Dispatcher | None = None,
    model: Model | None = None,
    capabilities: Sequence[AbstractCapability[TurnDeps]] = (),
) -> TurnResult:
    """Answer ``message`` as ``agent`` in ``thread``; the thread's history is loaded and saved.

    ``model`` answers instead of the agent's chain (a scripted model in tests and benchmarks);
    ``capabilities`` are added to the pydantic-ai agent (the flow passes its durability)."""
    if agent not in config.agents:
        raise ValueError(f"no agent named {agent!r}; the team: {', '.join(config.agents)}")
    if not message.strip():
        raise ValueError("the message is empty")
    if not workspace_dir(home, config.main_agent, config).exists():
        init_workspaces(home, config)  # a first turn on a fresh home needs no separate setup step
    threads = ThreadStore(home / "threads")
    history = threads.load(agent, thread)
    deps = TurnDeps(agent, thread, depth, home, config, dispatcher)
    started = time.perf_counter()
    outcome: Outcome = "answered"
    answer, problem, run, skipped = "", None, None, list[Skip]()
    with recording() as attempts, warnings.catch_warnings():
        # a model missing from the pricing table is not counted against max_usd; its cost shows as unknown
        warnings.simplefilter("ignore", CostNotFoundWarning)
        try:
            if model is None:
                chain = build_chain(config.agents[agent].chain, config, home)
                model, skipped = chain.model, chain.skipped
            run = await build_agent(agent, model, config, capabilities).run(
                message,
                deps=deps,
                message_history=history,
                instructions=instructions(agent, config, home),
                usage_limits=_limits(agent, config),
            )
            answer = run.output
        except UsageLimitExceeded as exc:
            outcome, problem = "limit", _limit_message(agent, exc)
        except (ModelAPIError, FallbackExceptionGroup, ChainUnavailable) as exc:
            outcome, problem = "failed", f"{agent.capitalize()} could not answer: every model failed ({exc})"
    if run is not None:
        threads.save(agent, thread, run.all_messages())
    record = call_record(f"agent:{agent}", skipped, attempts, config, started, output=None)
    served = list(dict.fromkeys(a.model for a in attempts if a.outcome == "ok"))
    local = [m for m in served if m.startswith("local:")]
    tools = config.agents[agent].tools
    return TurnResult(
        agent=agent,
        thread=thread,
        answer=answer,
        outcome=outcome,
        message=problem,
        served_by=served,
        skipped=[f"{s.model}: {s.reason}" for s in skipped],
        requests=len([a for a in attempts if a.outcome == "ok"]),
        input_tokens=record.input_tokens,
        output_tokens=record.output_tokens,
        cost_usd=record.cost_usd,
        tool_calls=deps.calls,
        tools_note=(
            f"served by {', '.join(local)}, which cannot call tools; answered without {', '.join(tools)}"
            if local and tools
            else None
        ),
        dispatched=deps.dispatched,
        latency_ms=(time.perf_counter() - started) * 1000,
    )


def turn_run(result: TurnResult, message: str, run_id: str, trace_id: str | None = None) -> RunRow:
    """The turn as a ``runs`` row of the score log (task_type ``agent_turn``), analysable in DuckDB."""
    record = result.model_dump(mode="json", exclude={"answer", "dispatched"})
    record["dispatched"] = [d.agent for d in result.dispatched]
    return RunRow(
        run_id=run_id,
        task_id=result.thread,
        task_type="agent_turn",
        role=result.agent,
        source="turn",
        model=f"agent:{result.agent}",
        served_by=result.served_by[-1] if result.served_by else None,
        input=message,
        output=result.answer,
        record=record,
        trace_id=trace_id,
        cost_usd=result.cost_usd,
        latency_ms=result.latency_ms,
        input_tokens=result.input_tokens,
        output_tokens=result.output_tokens,
        error=result.message if result.outcome != "answered" else None,
    )
