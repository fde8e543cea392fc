"""The ``[langfuse]`` table: where traces go, with which keys, and how much of each call they carry."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tenure.config_types import HttpUrlStr, SecretRefStr, Strict

__all__ = ["LangfuseConfig"]


class LangfuseConfig(Strict):
    """Tracing to Langfuse (self-hosted or Cloud) over OpenTelemetry; absent means tracing is off."""

    host: HttpUrlStr = "http://127.0.0.1:3000"
    """The Langfuse base URL; spans go to ``{host}/api/public/otel/v1/traces``."""
    public_key: SecretRefStr = "env:LANGFUSE_PUBLIC_KEY"
    secret_key: SecretRefStr = "env:LANGFUSE_SECRET_KEY"
    capture_content: bool = True
    """False: prompts, answers and tool arguments are not exported, only names, models, tokens and costs."""
    sample_rate: Annotated[float, Field(ge=0, le=1)] = 1.0
    """The share of flow runs traced (a run is traced whole or not at all)."""
    timeout: Annotated[int, Field(ge=1, le=60)] = 3
    """Seconds one export may take; a dead Langfuse costs at most this, in the exporter's thread."""
