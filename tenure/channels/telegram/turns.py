"""How a chat message becomes an ``agent_turn`` flow run and its answer comes back.

``DeploymentTurns`` submits a run of the ``agent_turn`` deployment for the worker (``tenure up``), with
an idempotency key made of the chat and the update id, so a resubmission after a restart gets the same
run back; the answer is read from the turn's ``runs`` row in the score log. ``InlineTurns`` runs the
flow in this process (no worker: tests and a minimal setup).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast
from uuid import UUID

from prefect.client.schemas.objects import FlowRun

from tenure.store import ScoreLog
from tenure.store.telegram import Entry

if TYPE_CHECKING:
    from prefect import State

    from tenure.agents.turn import TurnResult

__all__ = ["DEPLOYMENT", "DeploymentTurns", "InlineTurns", "Reply", "TurnRunner", "idempotency_key"]

DEPLOYMENT = "agent_turn/agent_turn"


@dataclass(frozen=True)
class Reply:
    text: str
    """What the chat is sent: the answer, or a short apology with the run's address."""
    failure: str | None = None
    """Set when the run failed: what the owner chat is told."""


class TurnRunner(Protocol):
    async def run(self, entry: Entry, submitted: Callable[[str], None]) -> Reply:
        """Run (or, after a restart, rejoin) the turn for ``entry``; ``submitted`` gets the flow run id
        as soon as one exists."""
        ...


def idempotency_key(entry: Entry) -> str:
    return f"telegram-{entry.chat_id}-{entry.update_id}"


def run_link(ui: str, flow_run_id: UUID | str) -> str:
    return f"{ui}/runs/flow-run/{flow_run_id}"


def failed(run: FlowRun, ui: str, chat_id: int) -> Reply:
    state = run.state.name if run.state else "unknown"
    link = run_link(ui, run.id)
    why = (run.state.message if run.state else None) or "no message"
    return Reply(
        f"Sorry, that did not work: the turn ended {state}. The run: {link}",
        failure=f"A turn for chat {chat_id} ended {state} ({why}): {link}",
    )


def answer(text: str | None, stopped: str | None) -> Reply:
    """The reply for a turn that ran: its answer, or why it stopped before giving one."""
    if stopped and not text:
        return Reply(f"I stopped before answering: {stopped}")
    return Reply(text if text is not None else "(no answer)")


async def recorded_answer(log: ScoreLog, run: FlowRun, ui: str, chat_id: int) -> Reply:
    """The reply for a run the worker finished: the answer its ``runs`` row holds (read off the event
    loop: DuckDB scans the log's segments)."""
    if run.state is None or not run.state.is_completed():
        return failed(run, ui, chat_id)
    row = await asyncio.to_thread(log.run, str(run.id))
    if row is None:
        return Reply(
            f"The turn finished but left no answer in the score log. The run: {run_link(ui, run.id)}",
            failure=f"Turn {run.id} for chat {chat_id} completed without a runs row",
        )
    return answer(None if row.output is None else str(row.output), row.error)


class DeploymentTurns:
    """Turns as runs of the ``agent_turn`` deployment, picked up by the worker."""

    def __init__(self, home: Path, ui: str, timeout: float):
        self.log = ScoreLog.for_home(home)
        self.ui = ui
        self.timeout = timeout

    async def run(self, entry: Entry, submitted: Callable[[str], None]) -> Reply:
        from prefect.deployments import arun_deployment
        from prefect.exceptions import FlowRunWaitTimeout, ObjectNotFound
        from prefect.flow_runs import wait_for_flow_run

        if entry.flow_run_id is None:
            try:
                created = await arun_deployment(
                    DEPLOYMENT,
                    parameters={"agent": entry.agent, "message": entry.text, "thread": entry.thread},
                    idempotency_key=idempotency_key(entry),
                    tags=["channel:telegram"],
                    timeout=0,
                    as_subflow=False,
                )
            except ObjectNotFound:
                missing = (
                    f"the {DEPLOYMENT} deployment is not on the Prefect server ({self.ui}): run tenure up"
                )
                return Reply(
                    f"Sorry, I cannot answer now: {missing}.", failure=f"Telegram turns fail: {missing}"
                )
            run_id = created.id
            submitted(str(run_id))
        else:
            run_id = UUID(entry.flow_run_id)
        try:
            finished = await wait_for_flow_run(run_id, timeout=int(self.timeout))
        except FlowRunWaitTimeout:
            minutes = self.timeout / 60
            return Reply(f"Still working on it after {minutes:.0f} min; the run: {run_link(self.ui, run_id)}")
        return await recorded_answer(self.log, finished, self.ui, entry.chat_id)


class InlineTurns:
    """Turns as ``agent_turn`` flow runs in this process: the answer is the flow's own result."""

    def __init__(self, ui: str):
        self.ui = ui

    async def run(self, entry: Entry, submitted: Callable[[str], None]) -> Reply:
        from prefect.client.orchestration import get_client

        from tenure.flows.agent_turn import agent_turn

        # Prefect's overloads type an async flow's return_state=True as a State of a coroutine
        pending = agent_turn(entry.agent, entry.text, entry.thread, return_state=True)
        state = await cast("Awaitable[State[TurnResult]]", pending)
        run_id = state.state_details.flow_run_id
        if run_id is None:
            return Reply("Sorry, that did not work: the turn never started.", failure="no flow run")
        submitted(str(run_id))
        if state.is_completed():
            result = await state.aresult()
            return answer(result.answer, result.message if result.outcome != "answered" else None)
        async with get_client() as client:
            return failed(await client.read_flow_run(run_id), self.ui, entry.chat_id)
