"""What a turn's tools share: the turn's dependencies (who, where, the config, what was called) and the
shapes of a turn's result. Its own module so the tool modules and the turn can both import it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from tenure.agents.workspace import workspace_dir
from tenure.config import AgentConfig, TenureConfig
from tenure.store import ScoreLog, ToolCallRow

__all__ = ["Dispatcher", "Outcome", "ToolCall", "TurnDeps", "TurnResult", "memory_path"]


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
    notes: list[str] = []
    """What the user should know about how the turn went: a damaged thread started afresh, a prompt cut
    to fit the model."""
    latency_ms: float = 0.0


Dispatcher = Callable[[str, str, str, int], Awaitable[TurnResult]]
"""(agent, request, thread, depth) → the dispatched agent's turn; the flow layer runs it as a subflow."""


@dataclass
class TurnDeps:
    """What a turn's tools know: whose turn, where, with which config; and what they did."""

    agent: str
    thread: str
    depth: int
    home: Path
    config: TenureConfig
    dispatcher: Dispatcher | None = None
    turn_id: str | None = None
    """The ``agent_turn`` flow run, when the turn runs as one."""
    calls: list[ToolCall] = field(default_factory=list)
    dispatched: list[TurnResult] = field(default_factory=list)

    @property
    def me(self) -> AgentConfig:
        return self.config.agents[self.agent]

    @property
    def workspace(self) -> Path:
        return workspace_dir(self.home, self.agent, self.config)

    def note(self, name: str, ok: bool, detail: str) -> None:
        self.calls.append(ToolCall(name=name, ok=ok, detail=detail[:200]))

    def record(
        self, tool: str, ok: bool, detail: str, *, target: str | None = None, size: int | None = None
    ) -> None:
        """Note the call in the turn's result and append it to the score log's ``tool_calls`` at once,
        so a write or a refusal stays on record even if the turn dies after it."""
        self.note(tool, ok, f"{target}: {detail}" if target else detail)
        row = ToolCallRow(
            agent=self.agent,
            thread=self.thread,
            turn_id=self.turn_id,
            tool=tool,
            target=target,
            ok=ok,
            bytes=size,
            detail=detail[:1000],
        )
        ScoreLog.for_home(self.home).append("tool_calls", [row])

    @property
    def memory_path(self) -> Path:
        return memory_path(self.home, self.config)


def memory_path(home: Path, config: TenureConfig) -> Path:
    """The shared MEMORY.md: the real file in the main workspace (the others link to it)."""
    return workspace_dir(home, config.main_agent, config) / "MEMORY.md"
