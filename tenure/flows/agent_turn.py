"""``agent_turn``: one agent answering one message in a thread, as a flow run in the Prefect UI.

The turn's model requests and tool calls are its tasks (pydantic-ai's Prefect durability); a
dispatch to a teammate is that teammate's ``agent_turn`` as a subflow; the turn's record lands in
the score log's ``runs`` (``task_type = 'agent_turn'``).
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from tenure.agents.turn import TurnResult, run_turn, turn_row
from tenure.config import Env, load_config
from tenure.tasks.control import append_rows

__all__ = ["agent_turn"]


@flow(name="agent_turn", flow_run_name="agent_turn/{agent}/{thread}")
async def agent_turn(agent: str, message: str, thread: str = "cli", depth: int = 0) -> TurnResult:
    """Answer ``message`` as ``agent``; ``depth`` counts the dispatches that led here (0 for the user)."""
    result = await run_turn(
        agent,
        message,
        thread,
        config=load_config(),
        home=Env().home.expanduser(),
        depth=depth,
        dispatcher=_dispatch,
    )
    append_rows("runs", [turn_row(result, message, run_id=str(flow_run.get_id() or ""))])
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
    return result


async def _dispatch(agent: str, request: str, thread: str, depth: int) -> TurnResult:
    return await agent_turn(agent, request, thread, depth)
