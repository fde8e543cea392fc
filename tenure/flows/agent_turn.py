"""``agent_turn``: one agent answering one message in a thread, as a flow run in the Prefect UI.

The turn's model requests and tool calls are its tasks (pydantic-ai's Prefect durability, handed to the
turn here); a dispatch to a teammate is that teammate's ``agent_turn`` as a subflow; the turn's record
lands in the score log's ``runs`` (``task_type = 'agent_turn'``).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from pydantic_ai.durable_exec.prefect import PrefectDurability, TaskConfig

from tenure.agents.turn import TurnResult, run_turn, turn_run
from tenure.models import tracing
from tenure.runtime import runtime
from tenure.tasks.shadowing import append_rows
from tenure.tasks.ui import label, markdown_table, publish_markdown

__all__ = ["agent_turn", "turn_markdown"]

_RETRIED = TaskConfig(retries=2, retry_delay_seconds=[5.0, 30.0])
"""Each model request and tool call is a task run, retried twice, 5 s and 30 s apart."""


@flow(name="agent_turn", flow_run_name="agent_turn/{agent}/{thread}")
async def agent_turn(
    agent: str, message: str, thread: str = "cli", depth: int = 0, model: Any = None
) -> TurnResult:
    """Answer ``message`` as ``agent``; ``depth`` counts the dispatches that led here (0 for the user).

    ``model`` (in-process callers only: a pydantic-ai model) answers instead of the agents' chains, in
    this turn and the turns it dispatches."""
    rt = runtime()
    tracing.tag_trace(session=thread)
    run_id = str(flow_run.get_id() or "")

    async def dispatch(to: str, request: str, in_thread: str, at_depth: int) -> TurnResult:
        return await agent_turn(to, request, in_thread, at_depth, model)

    result = await run_turn(
        agent,
        message,
        thread,
        config=rt.config,
        home=rt.home,
        depth=depth,
        dispatcher=dispatch,
        model=model,
        capabilities=[PrefectDurability(model_task_config=_RETRIED, tool_task_config=_RETRIED)],
        turn_id=run_id or None,
    )
    trace_id, _ = tracing.current_ids()
    append_rows("runs", [turn_run(result, message, run_id=run_id, trace_id=trace_id)])
    logger = get_run_logger()
    logger.info(
        "%s %s: served by %s, %d request(s), %d tool call(s), $%.6f",
        agent,
        result.outcome,
        ", ".join(result.served_by) or "-",
        result.requests,
        len(result.tool_calls),
        result.cost_usd or 0,
    )
    if result.message:
        logger.warning(result.message)
    label(agent=agent, source="live", model=result.served_by)
    summary = turn_markdown(result, tracing.trace_url(trace_id))
    publish_markdown(None, summary, f"{agent}'s turn in {thread}: {result.outcome}")
    return result


def turn_markdown(result: TurnResult, trace: str | None = None) -> str:
    """The turn as the UI shows it: who served it, the tools it called, what it cost (not the text), and
    its trace in Langfuse when tracing is on."""
    cost = "unknown" if result.cost_usd is None else f"${result.cost_usd:.6f}"
    facts = [
        {"": "outcome", " ": result.outcome + (f" ({result.message})" if result.message else "")},
        {"": "served by", " ": ", ".join(result.served_by) or "-"},
        {"": "model requests", " ": result.requests},
        {"": "tokens in → out", " ": f"{result.input_tokens} → {result.output_tokens}"},
        {"": "cost", " ": cost},
        {"": "latency", " ": f"{result.latency_ms / 1000:.1f} s"},
        {"": "dispatched to", " ": ", ".join(d.agent for d in result.dispatched) or "-"},
        *([{"": "trace", " ": f"[Langfuse]({trace})"}] if trace else []),
    ]
    calls = [{"tool": c.name, "ok": "yes" if c.ok else "no", "detail": c.detail} for c in result.tool_calls]
    return (f"### {result.agent} · {result.outcome}\n\n{markdown_table(facts)}\n\n"
            f"#### Tools called\n\n{markdown_table(calls) if calls else '_none_'}")  # fmt: skip
