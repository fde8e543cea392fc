"""The ``[langfuse]`` table: where traces go, with which keys, and how much of each call they carry."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from tenure.config_types import SecretRefStr, Strict

__all__ = ["LangfuseConfig"]


class LangfuseConfig(Strict):
    """Tracing to Langfuse (self-hosted or Cloud) over OpenTelemetry; absent means tracing is off."""

    host: str = "http://127.0.0.1:3000"
    """The Langfuse base URL; spans go to ``{host}/api/public/otel/v1/traces``."""
    public_key: SecretRefStr = "env:LANGFUSE_PUBLIC_KEY"
    secret_key: SecretRefStr = "env:LANGFUSE_SECRET_KEY"
    capture_content: bool = True
    """False: prompts, answers and tool arguments are not exported, only names, models, tokens and costs."""
    sample_rate: Annotated[float, Field(ge=0, le=1)] = 1.0
    """The share of flow runs traced (a run is traced whole or not at all)."""
    timeout: Annotated[int, Field(ge=1, le=60)] = 3
    """Seconds one export may take; a dead Langfuse costs at most this, in the exporter's thread."""

    @field_validator("host")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"'{value}' is not an http(s) URL; expected e.g. http://127.0.0.1:3000")
        if parts.username or parts.password:
            raise ValueError("the URL carries credentials; put them in public_key and secret_key instead")
        return value.rstrip("/")
