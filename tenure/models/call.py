"""``call``: one prompt through a chain or a single model, returning the answer and its full record."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from pydantic_ai import Agent
from pydantic_ai.direct import model_request
from pydantic_ai.exceptions import FallbackExceptionGroup, ModelAPIError
from pydantic_ai.messages import ModelRequest
from pydantic_ai.settings import ModelSettings

from tenure.models.chain import build_chain
from tenure.models.pricing import DEFAULT_PRICING, load_pricing
from tenure.models.result import Attempt, CallResult, recording

if TYPE_CHECKING:
    from pathlib import Path

    from tenure.config import TenureConfig

__all__ = ["CallFailed", "call"]

_agent: Agent[None, Any] = Agent()  # structured output only; plain text goes straight to the model


class CallFailed(RuntimeError):
    """Every model tried failed (or a request error stopped the chain); ``.result`` holds the record."""

    def __init__(self, message: str, result: CallResult):
        super().__init__(message)
        self.result = result


async def call(
    prompt: str,
    *,
    config: TenureConfig,
    home: Path,
    target: str | list[str] = "default",
    system: str | None = None,
    output_type: Any = str,
    max_tokens: int | None = None,
    temperature: float | None = None,
    stop: list[str] | None = None,
) -> CallResult:
    """Ask ``target`` (a chain name, a model id or a list of ids) and return the record of the call.

    The record names the model that served, every attempt with its error class and why each fallback
    fired, tokens, cost from the pricing table and latency. Raises ``CallFailed`` (with the record)
    when nothing answered, and ``ChainUnavailable`` when no link could even be tried.
    """
    chain = build_chain(target, config, home)
    settings = ModelSettings()
    if max_tokens is not None:
        settings["max_tokens"] = max_tokens
    if temperature is not None:
        settings["temperature"] = temperature
    if stop:
        settings["stop_sequences"] = stop
    started = time.perf_counter()
    with recording() as attempts:
        try:
            if output_type is str:  # one request, no agent loop: about 3 ms less per call (bench/models.py)
                request = ModelRequest.user_text_prompt(prompt, instructions=system)
                output = (await model_request(chain.model, [request], model_settings=settings)).text or ""
            else:
                run = await _agent.run(
                    prompt,
                    model=chain.model,
                    instructions=system,
                    output_type=output_type,
                    model_settings=settings,
                )
                output = run.output
        except (ModelAPIError, FallbackExceptionGroup) as exc:
            result = call_record(chain.name, chain.skipped, attempts, config, started, output=None)
            raise CallFailed(_failure_message(chain.name, exc, result), result) from None
    return call_record(chain.name, chain.skipped, attempts, config, started, output=output)


def call_record(
    requested: str, skipped: list, attempts: list[Attempt], config: TenureConfig, started: float, output: Any
) -> CallResult:
    """The record of the attempts made since ``started``: who served, tokens, cost from the pricing table."""
    pricing = load_pricing(config.pricing_file or DEFAULT_PRICING)
    served = [a for a in attempts if a.outcome == "ok"]
    costs = [pricing.cost(a.model, a.input_tokens, a.output_tokens) for a in served]
    span = trace.get_current_span().get_span_context()
    return CallResult(
        requested=requested,
        served_by=served[-1].model if served else None,
        output=output,
        input_tokens=sum(a.input_tokens for a in served),
        output_tokens=sum(a.output_tokens for a in served),
        cost_usd=None if None in costs else sum(c for c in costs if c is not None),
        latency_ms=(time.perf_counter() - started) * 1000,
        attempts=list(attempts),
        skipped=list(skipped),
        trace_id=f"{span.trace_id:032x}" if span.is_valid else None,
    )


def _failure_message(requested: str, exc: BaseException, result: CallResult) -> str:
    last = next((a for a in reversed(result.attempts) if a.outcome != "retried"), None)
    if last is not None and last.outcome == "failed":
        return f"{requested}: {last.model} rejected the request ({last.reason}): {exc}"
    tried = "; ".join(
        f"{a.model}: {a.reason}" for a in result.attempts if a.outcome in ("fell_back", "skipped")
    )
    skipped = "; ".join(f"{s.model}: {s.reason}" for s in result.skipped)
    return f"{requested}: every model failed ({tried})" + (f"; skipped: {skipped}" if skipped else "")
