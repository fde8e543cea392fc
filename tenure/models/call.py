"""``call``: one prompt through a chain or a single model, returning the answer and its full record."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import Span
from pydantic_ai import Agent
from pydantic_ai.direct import model_request
from pydantic_ai.exceptions import FallbackExceptionGroup, ModelAPIError
from pydantic_ai.messages import ModelRequest
from pydantic_ai.settings import ModelSettings

from tenure.models import tracing
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
    with (
        tracing.span(f"call {chain.name}", {"tenure.requested": chain.name}) as span,
        recording() as attempts,
    ):
        if span is not None:
            span.set_attributes(_generation_input(prompt, system))
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
            _describe(span, result)
            raise CallFailed(_failure_message(chain.name, exc, result), result) from None
        result = call_record(chain.name, chain.skipped, attempts, config, started, output=output)
        _describe(span, result)
    return result


def call_record(
    requested: str, skipped: list, attempts: list[Attempt], config: TenureConfig, started: float, output: Any
) -> CallResult:
    """The record of the attempts made since ``started``: who served, tokens, cost from the pricing table."""
    pricing = load_pricing(config.pricing_file or DEFAULT_PRICING)
    served = [a for a in attempts if a.outcome == "ok"]
    costs = [pricing.cost(a.model, a.input_tokens, a.output_tokens) for a in served]
    trace_id, span_id = tracing.current_ids()
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
        trace_id=trace_id,
        span_id=span_id,
    )


def _generation_input(prompt: str, system: str | None) -> dict[str, Any]:
    value = tracing.content({"system": system, "prompt": prompt} if system else prompt)
    return {
        "langfuse.observation.type": "generation",
        **({"langfuse.observation.input": value} if value else {}),
    }


def _describe(span: Span | None, result: CallResult) -> None:
    """The call as a Langfuse generation: who was asked, who served, tokens, cost, fallbacks, output."""
    if span is None:
        return
    output = tracing.content(result.output) if result.served_by else None
    span.set_attributes(
        {
            "tenure.served_by": result.served_by or "",
            "tenure.fallbacks": [f"{a.model}: {a.reason}" for a in result.fallbacks],
            "tenure.cost_usd": result.cost_usd if result.cost_usd is not None else -1.0,
            "tenure.latency_ms": result.latency_ms,
            "langfuse.observation.model.name": result.served_by or result.requested,
            "langfuse.observation.usage_details": json.dumps(
                {"input": result.input_tokens, "output": result.output_tokens}
            ),
            **(
                {"langfuse.observation.cost_details": json.dumps({"total": result.cost_usd})}
                if result.cost_usd is not None
                else {}
            ),
            **({"langfuse.observation.output": output} if output else {}),
        }
    )
    if result.served_by is None:
        span.set_status(trace.StatusCode.ERROR, "every model failed")


def _failure_message(requested: str, exc: BaseException, result: CallResult) -> str:
    last = next((a for a in reversed(result.attempts) if a.outcome != "retried"), None)
    if last is not None and last.outcome == "failed":
        return f"{requested}: {last.model} rejected the request ({last.reason}): {exc}"
    tried = "; ".join(
        f"{a.model}: {a.reason}" for a in result.attempts if a.outcome in ("fell_back", "skipped")
    )
    skipped = "; ".join(f"{s.model}: {s.reason}" for s in result.skipped)
    return f"{requested}: every model failed ({tried})" + (f"; skipped: {skipped}" if skipped else "")
