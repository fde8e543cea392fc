"""The fallback chain: ordered models, each retried on transient errors, with a cooldown for a failing one.

Built on pydantic-ai: every link is a ``WrapperModel`` that retries its own model and records each
attempt; the links sit in a ``FallbackModel``, so agents, tools and structured output work through a
chain exactly as through a single model.

Policy, per error class (pydantic-ai maps every provider's errors onto these):

- 429 rate limit: retry the same model after its Retry-After (if at most ``max_retry_after``), then fall back.
- 529 overloaded, 503, other 5xx, timeouts, dropped connections: retry with exponential backoff and
  full jitter, then fall back.
- refused connection (nothing listening), 401/403 key, 402 quota, 404 model, context window
  exceeded: fall back at once (waiting would not help; another model may serve).
- any other 400/422 (the request itself is bad): raise, never fall back (every model would refuse it).

A model whose calls fail ``cooldown_after`` times in a row is skipped for ``cooldown_seconds``, by every
process using the same tenure home (``tenure.models.health``: each flow run may be its own process).
"""

from __future__ import annotations

import asyncio
import random
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelContextWindowExceededError,
    ModelHTTPError,
    ModelNotFoundError,
    ModelQuotaExceededError,
    ModelRateLimitError,
    ModelRequestRejectedError,
    ModelTimeoutError,
    ModelUnavailableError,
)
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.fallback import FallbackModel
from pydantic_ai.models.wrapper import WrapperModel

from tenure.model_ids import parse_model_id
from tenure.models.health import HEALTHY, Health, HealthStore
from tenure.models.pricing import DEFAULT_PRICING, Pricing, load_pricing
from tenure.models.providers import Unusable, build_model
from tenure.models.result import Attempt, Outcome, Skip, note_attempt

if TYPE_CHECKING:
    from pathlib import Path

    from pydantic_ai.messages import ModelMessage, ModelResponse
    from pydantic_ai.settings import ModelSettings

    from tenure.config import RetryPolicy, TenureConfig

__all__ = ["Chain", "ChainUnavailable", "Link", "build_chain", "falls_back"]


class ChainUnavailable(RuntimeError):
    """No link of the chain can be tried: each was skipped for a configuration reason (e.g. no key)."""


def is_request_error(exc: BaseException) -> bool:
    """A 400-class error about the request itself: every model would refuse it, so never fall back."""
    return isinstance(exc, ModelRequestRejectedError) and not isinstance(
        exc, ModelAuthenticationError | ModelNotFoundError | ModelContextWindowExceededError
    )


def falls_back(exc: Exception) -> bool:
    """The chain's ``fallback_on``: any provider-side failure, never a request error."""
    return isinstance(exc, ModelAPIError) and not is_request_error(exc)


def _retryable(exc: ModelAPIError) -> bool:
    if (
        isinstance(exc, ModelConnectionError)
        and not isinstance(exc, ModelTimeoutError)
        and exc.phase == "connect"
    ):
        return False  # refused: nothing is listening, waiting will not change that
    return isinstance(exc, ModelRateLimitError | ModelUnavailableError | ModelConnectionError) or (
        isinstance(exc, ModelHTTPError) and exc.status_code >= 500
    )


_KINDS: dict[type[ModelAPIError], str] = {  # most specific first
    ModelRateLimitError: "rate limited",
    ModelQuotaExceededError: "quota exhausted",
    ModelAuthenticationError: "key rejected",
    ModelNotFoundError: "model not found",
    ModelContextWindowExceededError: "context window exceeded",
    ModelUnavailableError: "overloaded/unavailable",
    ModelTimeoutError: "timed out",
    ModelConnectionError: "connection failed",
}


def _describe(exc: ModelAPIError) -> tuple[int | None, str]:
    """The HTTP status (if any) and a few words a person can act on."""
    status = exc.status_code if isinstance(exc, ModelHTTPError) else None
    if is_request_error(exc):
        what = "request rejected"
    else:
        default = "server error" if status else f"provider error: {str(exc)[:120]}"
        what = next((text for cls, text in _KINDS.items() if isinstance(exc, cls)), default)
    return status, f"{status} {what}" if status else what


class Link(WrapperModel):
    """One model of a chain: retries it per the policy, records every attempt, honours its cooldown."""

    def __init__(
        self,
        model_id: str,
        wrapped: Model,
        policy: RetryPolicy,
        pricing: Pricing | None = None,
        health: HealthStore | None = None,
    ):
        """``health`` is the home's shared health table; without one (a link built outside a chain) the
        model never cools down."""
        super().__init__(wrapped)
        self.tenure_id = model_id
        self.policy = policy
        self.pricing = pricing
        self.health = health

    def _check_cooldown(self) -> Health:
        """The model's health, read once before sending; raises (recording the skip) while it cools down."""
        health = self.health.get(self.tenure_id) if self.health else HEALTHY
        remaining = health.until - time.time()
        if remaining > 0:
            reason = f"in cooldown for {remaining:.0f} s more after {health.failures} failed calls in a row"
            note_attempt(Attempt(model=self.tenure_id, outcome="skipped", reason=reason))
            raise ModelUnavailableError(self.tenure_id, reason)
        return health

    async def _settle(self, ok: bool, before: Health) -> None:
        """Record how the call ended: every failure, but a success only if ``before`` (the read before
        sending) had failures to clear, so a healthy model's calls write nothing. A write waits for the
        file lock and an fsync (milliseconds), so it runs in a thread and the event loop goes on."""
        if self.health is None or (ok and not before.failures):
            return
        if ok:
            await asyncio.to_thread(self.health.succeeded, self.tenure_id)
        else:
            policy = self.policy
            await asyncio.to_thread(
                self.health.failed, self.tenure_id, policy.cooldown_after, policy.cooldown_seconds
            )

    def _wait(self, exc: ModelAPIError, retry: int) -> float | None:
        """Seconds to wait before retrying, or ``None`` to stop retrying this model."""
        if retry >= self.policy.retries or not _retryable(exc):
            return None
        if exc.retry_after is not None:
            return exc.retry_after if exc.retry_after <= self.policy.max_retry_after else None
        ceiling = min(self.policy.backoff_max, self.policy.backoff_base * 2**retry)
        return random.uniform(0, ceiling)  # full jitter

    async def _attempts(self, send: Any) -> tuple[Any, float, Health]:
        """``send``'s result, its latency (ms) and the model's health before it; retries per the policy."""
        before = self._check_cooldown()
        retry = 0
        while True:
            started = time.perf_counter()
            try:
                result = await send()
            except ModelAPIError as exc:
                latency = (time.perf_counter() - started) * 1000
                status, what = _describe(exc)
                wait = self._wait(exc, retry)
                if wait is not None:
                    reason = f"{what}; retrying in {wait:.2f} s" + (
                        " (Retry-After)" if exc.retry_after is not None else ""
                    )
                    note_attempt(self._attempt("retried", exc, status, reason, latency, wait))
                    await asyncio.sleep(wait)
                    retry += 1
                    continue
                if falls_back(exc):
                    note_attempt(self._attempt("fell_back", exc, status, f"{what}; falling back", latency))
                    await self._settle(ok=False, before=before)
                else:
                    note_attempt(self._attempt("failed", exc, status, f"{what}; not falling back", latency))
                raise
            return result, (time.perf_counter() - started) * 1000, before

    def _attempt(
        self,
        outcome: Outcome,
        exc: ModelAPIError,
        status: int | None,
        reason: str,
        latency: float,
        wait: float | None = None,
    ) -> Attempt:
        return Attempt(
            model=self.tenure_id,
            outcome=outcome,
            error=type(exc).__name__,
            status=status,
            reason=reason,
            wait_s=wait,
            latency_ms=latency,
        )

    async def _record_ok(self, response: ModelResponse, latency: float, before: Health) -> None:
        """Record the success, and price the response from tenure's table (so ``UsageLimits.cost_limit``
        and the run's usage count what tenure's records count)."""
        await self._settle(ok=True, before=before)
        cost = self.pricing and self.pricing.cost(
            self.tenure_id, response.usage.input_tokens, response.usage.output_tokens
        )
        if cost is not None:
            response.usage.cost = Decimal(str(cost))
        note_attempt(
            Attempt(
                model=self.tenure_id,
                outcome="ok",
                latency_ms=latency,
                input_tokens=response.usage.input_tokens,
                output_tokens=response.usage.output_tokens,
            )
        )

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        response, latency, before = await self._attempts(
            lambda: self.wrapped.request(messages, model_settings, model_request_parameters)
        )
        await self._record_ok(response, latency, before)
        return response

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: Any = None,
    ) -> AsyncIterator[StreamedResponse]:
        """Retries cover opening the stream; once it has started, errors belong to the stream."""
        async with AsyncExitStack() as stack:

            async def open_stream() -> StreamedResponse:
                return await stack.enter_async_context(
                    self.wrapped.request_stream(
                        messages, model_settings, model_request_parameters, run_context
                    )
                )

            stream, latency, before = await self._attempts(open_stream)
            yield stream
        await self._record_ok(stream.get(), latency, before)


@dataclass
class Chain:
    """A built chain: the pydantic-ai model to call, its links, and the links skipped while building."""

    name: str
    model: Model
    links: list[Link]
    skipped: list[Skip] = field(default_factory=list)


_built: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, Link]] = weakref.WeakKeyDictionary()


def _link(model_id: str, config: TenureConfig, home: Path) -> Link:
    """Links are reused within an event loop (SDK clients hold connection pools bound to their loop)."""
    try:
        loop: Any = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    provider = parse_model_id(model_id).provider
    key = (
        model_id,
        getattr(config.providers, provider),
        config.models.get(model_id),
        config.retry,
        config.pricing_file,
        home,
    )
    cache = _built.setdefault(loop, {}) if loop is not None else {}
    if key not in cache:
        pricing = load_pricing(config.pricing_file or DEFAULT_PRICING)
        model = build_model(model_id, config, home)
        cache[key] = Link(model_id, model, config.retry, pricing, HealthStore(home))
    return cache[key]


def build_chain(name_or_ids: str | list[str], config: TenureConfig, home: Path) -> Chain:
    """Build a chain from a configured chain name, a single model id, or a list of ids.

    Links that cannot be used (no key, unreadable secret) are skipped with their reason; if none is
    left, ``ChainUnavailable`` says why each one was skipped.
    """
    if isinstance(name_or_ids, list):
        name, ids = "chain:custom", name_or_ids
    elif ":" in name_or_ids:  # chain names have no colon; model ids always do
        name, ids = str(parse_model_id(name_or_ids)), [name_or_ids]
    else:
        name, ids = f"chain:{name_or_ids}", config.chain(name_or_ids)
    links: list[Link] = []
    skipped: list[Skip] = []
    for model_id in ids:
        try:
            links.append(_link(model_id, config, home))
        except Unusable as exc:
            skipped.append(Skip(model=model_id, reason=str(exc)))
    if not links:
        reasons = "; ".join(f"{s.model}: {s.reason}" for s in skipped)
        raise ChainUnavailable(f"{name}: no usable model ({reasons})")
    model: Model = links[0] if len(links) == 1 else FallbackModel(*links, fallback_on=falls_back)
    return Chain(name=name, model=model, links=links, skipped=skipped)
