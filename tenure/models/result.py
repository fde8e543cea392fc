"""What every model call leaves behind: the result record and its attempts."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal

from opentelemetry import trace
from pydantic import BaseModel, Field

__all__ = ["Attempt", "CallResult", "Skip", "note_attempt", "recording"]

Outcome = Literal["ok", "retried", "fell_back", "failed", "skipped"]


class Attempt(BaseModel):
    """One request sent to one model (or a link passed over without sending)."""

    model: str
    outcome: Outcome
    """ok: it answered; retried: it failed and was tried again; fell_back: the chain moved on;
    failed: the error ended the call; skipped: in cooldown, nothing sent."""
    error: str | None = None
    """Error class, e.g. ``ModelOverloadedError``."""
    status: int | None = None
    """HTTP status, when there was one."""
    reason: str | None = None
    """Why the attempt ended as it did, in words."""
    wait_s: float | None = None
    """Backoff slept before the next attempt on the same model."""
    latency_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0


class Skip(BaseModel):
    """A link of the chain that was never tried, and why (e.g. no API key configured)."""

    model: str
    reason: str


class CallResult(BaseModel):
    """The record of one call: what was asked, what served, what it cost and what went wrong on the way."""

    requested: str
    """The model id asked for, or ``chain:NAME``."""
    served_by: str | None
    """The model that produced the answer, after any fallback."""
    output: Any = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    """Dollars, from the pricing table; ``None`` when a serving model has no price."""
    latency_ms: float = 0.0
    attempts: list[Attempt] = Field(default_factory=list)
    skipped: list[Skip] = Field(default_factory=list)
    trace_id: str | None = None
    span_id: str | None = None
    """The call's span (its generation in Langfuse), where judge verdicts are attached as scores."""

    @property
    def fallbacks(self) -> list[Attempt]:
        """Attempts after which the chain moved to its next model."""
        return [a for a in self.attempts if a.outcome == "fell_back"]


_attempts: ContextVar[list[Attempt] | None] = ContextVar("tenure_attempts", default=None)


@contextmanager
def recording():
    """Collect the attempts made by chain links inside the block (per task/context, so concurrent calls
    never mix their records)."""
    attempts: list[Attempt] = []
    token = _attempts.set(attempts)
    try:
        yield attempts
    finally:
        _attempts.reset(token)


def note_attempt(attempt: Attempt) -> None:
    """Add an attempt to the current recording, if any, and to the current span as an event (a no-op
    unless tracing is on): a trace shows every retry and fallback with its reason."""
    current = _attempts.get()
    if current is not None:
        current.append(attempt)
    fields = attempt.model_dump(exclude_none=True, exclude_defaults=True)
    trace.get_current_span().add_event(
        f"{attempt.outcome}: {attempt.model}", {"model": attempt.model, **fields}
    )
