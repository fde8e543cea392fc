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
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from pydantic_ai import Agent, CostNotFoundWarning, UsageLimits
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.exceptions import FallbackExceptionGroup, ModelAPIError, UsageLimitExceeded
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model

from tenure.agents.deps import Dispatcher, Outcome, TurnDeps, TurnResult, memory_path
from tenure.agents.memory import read_memory
from tenure.agents.skills import skills_section
from tenure.agents.team_tools import MEMORY_BUDGET
from tenure.agents.toolbox import TOOLBOX
from tenure.agents.workspace import init_workspaces, workspace_dir
from tenure.config import TenureConfig
from tenure.control.task_types.base import DATA_NOTE
from tenure.models import ChainUnavailable, Skip, build_chain
from tenure.models.call import call_record
from tenure.models.local import PROMPT_CUT
from tenure.models.result import recording
from tenure.store import RunRow
from tenure.store.threads import ThreadStore

__all__ = [
    "MAX_MESSAGE_CHARS",
    "TurnResult",
    "build_agent",
    "check_turn",
    "instructions",
    "run_turn",
    "turn_run",
]

MAX_MESSAGE_CHARS = 100_000
"""A message to an agent: a long email or a page of notes, not a book (a bigger one is refused before
any flow starts; paste a file's path and let the agent read it instead)."""


def check_turn(agent: str, message: str, thread: str, config: TenureConfig) -> None:
    """Refuse a turn that cannot run (ValueError, in words for the user) before anything starts."""
    if agent not in config.agents:
        raise ValueError(f"no agent named {agent!r}; the team: {', '.join(config.agents)}")
    if not message.strip():
        raise ValueError("the message is empty")
    if len(message) > MAX_MESSAGE_CHARS:
        raise ValueError(
            f"the message has {len(message):,} characters; the limit is {MAX_MESSAGE_CHARS:,} "
            "(put the text in a file in the agent's workspace and ask about it instead)"
        )
    ThreadStore.check_id(thread)


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
    if "load_skill" in me.tools and (skills := skills_section(home, agent, config)):
        parts.append(skills)
    parts.append(f"## Tool results\n{DATA_NOTE}")
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
    turn_id: str | None = None,
) -> TurnResult:
    """Answer ``message`` as ``agent`` in ``thread``; the thread's history is loaded and saved.

    ``model`` answers instead of the agent's chain (a scripted model in tests and benchmarks);
    ``capabilities`` are added to the pydantic-ai agent (the flow passes its durability); ``turn_id``
    names the flow run in the tool calls' records."""
    check_turn(agent, message, thread, config)
    if not workspace_dir(home, config.main_agent, config).exists():
        init_workspaces(home, config)  # a first turn on a fresh home needs no separate setup step
    threads = ThreadStore(home / "threads")
    history, thread_note = threads.load(agent, thread)
    deps = TurnDeps(agent, thread, depth, home, config, dispatcher, turn_id)
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
    notes = [thread_note] if thread_note else []
    if run is not None:
        threads.save(agent, thread, run.all_messages())
        notes += _cut_notes(run.new_messages())
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
        notes=notes,
        latency_ms=(time.perf_counter() - started) * 1000,
    )


def _cut_notes(messages: Sequence[ModelMessage]) -> list[str]:
    """A note for each answer given from a prompt cut to fit the model (``prompt_cut_tokens``)."""
    cuts = [
        (m.model_name, (m.provider_details or {}).get(PROMPT_CUT, 0))
        for m in messages
        if isinstance(m, ModelResponse)
    ]
    return [
        f"{name} saw only the end of the conversation: {cut:,} tokens did not fit its context (left out)"
        for name, cut in cuts
        if cut
    ]


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
