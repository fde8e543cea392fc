"""Tracing to Langfuse: a trace per flow run, a span per model call (its attempts as events), per model
request and per tool call, and each judge verdict as a score on the candidate's generation.

Off unless ``[langfuse]`` is configured: then nothing is imported or installed and the spans opened here
are OpenTelemetry's no-op ones. On, it is the Langfuse SDK (OpenTelemetry-based) as the global tracer
provider, so Prefect's flow- and task-run spans (the trace's skeleton) and pydantic-ai's request and tool
spans share one trace. The CLI installs it before it starts a flow; a deployed run's process, when it
imports ``tenure.flows``, before Prefect opens the run's span.
Export runs in the SDK's background threads, each request bounded by ``timeout``: a dead Langfuse never
blocks or fails a turn. Every exported string attribute passes through ``secrets.redact``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import trace

from tenure.secrets import SecretError, redact, resolve

if TYPE_CHECKING:
    from langfuse import Langfuse
    from langfuse.types import MaskOtelSpansParams, MaskOtelSpansResult
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import Span

    from tenure.config import TenureConfig
    from tenure.config_tracing import LangfuseConfig

__all__ = [
    "Tracing",
    "active",
    "content",
    "current_ids",
    "install",
    "score",
    "span",
    "tag_trace",
    "trace_url",
]

TRACER = "tenure"
EXPORTED_SCOPES = frozenset({"tenure", "prefect"})
"""Exported beside Langfuse's default choice (its own spans, ``gen_ai.*`` spans, pydantic-ai's)."""

logger = logging.getLogger(__name__)
_lock = threading.Lock()


@dataclass(frozen=True)
class Tracing:
    """Tracing as installed in this process."""

    settings: LangfuseConfig
    client: Langfuse

    def trace_url(self, trace_id: str) -> str:
        """The trace in Langfuse's UI (``/trace/ID`` redirects to the trace's project)."""
        return f"{self.settings.host}/trace/{trace_id}"


_active: Tracing | None = None


def active() -> Tracing | None:
    """Tracing, if this process installed it."""
    return _active


def install(config: TenureConfig) -> Tracing | None:
    """Trace this process if ``[langfuse]`` is configured; once per process (OpenTelemetry's provider is
    global). Keys that cannot be resolved leave tracing off with one warning, never a failed run."""
    global _active
    settings = config.langfuse
    if settings is None:
        return None
    with _lock:
        if _active is not None:
            return _active
        try:
            public = resolve(settings.public_key).get_secret_value()
            secret = resolve(settings.secret_key).get_secret_value()
        except SecretError as exc:
            logger.warning("Langfuse tracing is off: %s", exc)
            return None
        # The Anthropic SDK traces its own requests once a provider exists: a second span per request
        # beside pydantic-ai's (same model, same tokens), and a third of tracing's cost per call
        # (bench/models.py). Set ANTHROPIC_OPEN_TELEMETRY=true to have both.
        os.environ.setdefault("ANTHROPIC_OPEN_TELEMETRY", "false")
        from langfuse import Langfuse
        from opentelemetry.sdk.trace import TracerProvider
        from pydantic_ai import Agent
        from pydantic_ai.models.instrumented import InstrumentationSettings

        client = Langfuse(
            public_key=public,
            secret_key=secret,
            base_url=settings.host,
            timeout=settings.timeout,
            sample_rate=settings.sample_rate,
            should_export_span=_exported,
            mask_otel_spans=_redacted,
        )
        provider = trace.get_tracer_provider()  # the SDK provider Langfuse installed (or found)
        if isinstance(provider, TracerProvider):
            from tenure.models.tracing_links import FlowRunLinks

            provider.add_span_processor(FlowRunLinks())
        Agent.instrument_all(
            InstrumentationSettings(include_content=settings.capture_content, include_binary_content=False)
        )
        _active = Tracing(settings, client)
        return _active


def _exported(span: ReadableSpan) -> bool:
    from langfuse.span_filter import is_default_export_span

    scope = span.instrumentation_scope.name if span.instrumentation_scope else ""
    return scope in EXPORTED_SCOPES or is_default_export_span(span)


def _redacted(*, params: MaskOtelSpansParams) -> MaskOtelSpansResult | None:
    """Replace any resolved secret value in a string attribute before it leaves the process."""
    from langfuse.types import MaskOtelSpansResult, OtelSpanPatch

    patches = {}
    for key, data in params.spans.items():
        changed = {}
        for name, value in (data.attributes or {}).items():
            if isinstance(value, str) and (clean := redact(value)) != value:
                changed[name] = clean
        if changed:
            patches[key] = OtelSpanPatch(set_attributes=changed)
    return MaskOtelSpansResult(span_patches=patches) if patches else None


@contextmanager
def span(name: str, attributes: Mapping[str, Any] | None = None) -> Iterator[Span | None]:
    """A span around the block while tracing is on (``None``, and no work, while it is off)."""
    if _active is None:
        yield None
        return
    with trace.get_tracer(TRACER).start_as_current_span(name, attributes=attributes) as opened:
        yield opened


def content(value: Any) -> str | None:
    """``value`` as a span attribute (JSON), or ``None`` when content capture is off."""
    if _active is None or not _active.settings.capture_content:
        return None
    return value if isinstance(value, str) else json.dumps(value, default=str)


def trace_url(trace_id: str | None) -> str | None:
    """Where a trace is seen in Langfuse, if tracing is on and the id is known."""
    return _active.trace_url(trace_id) if _active and trace_id else None


def tag_trace(*, session: str | None = None) -> None:
    """Group the current trace in Langfuse: ``session`` (a conversation's thread) ties its turns together."""
    current = trace.get_current_span()
    if session and current.is_recording():
        current.set_attribute("session.id", session)


def current_ids() -> tuple[str | None, str | None]:
    """The current trace and span ids in hex, or ``(None, None)`` outside a recorded (sampled) span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid or not context.trace_flags.sampled:  # sampled out: no trace to link to
        return None, None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def score(
    trace_id: str | None,
    observation_id: str | None,
    name: str,
    value: float,
    *,
    comment: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Attach a numeric score to an observation (queued; sent by the SDK's score thread)."""
    if _active is None or trace_id is None:
        return
    _active.client.create_score(
        name=name,
        value=value,
        trace_id=trace_id,
        observation_id=observation_id,
        data_type="NUMERIC",
        comment=redact(comment) if comment and _active.settings.capture_content else None,
        metadata=dict(metadata or {}),
    )
