"""The value types config sections share: strict frozen tables, model ids and secret references, each
checked where it is parsed so a bad value is reported with its key."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from tenure.model_ids import parse_model_id
from tenure.secrets import parse_secret_ref, redact_url, shown

__all__ = ["HttpUrlStr", "ModelChain", "ModelIdStr", "SecretRefStr", "Strict"]


def _check_model_id(value: str) -> str:
    parse_model_id(value)
    return value


def _check_secret_ref(value: str) -> str:
    parse_secret_ref(value)
    return value


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise ValueError(
            f"{shown(redact_url(value))} is not an http(s) URL; expected e.g. http://127.0.0.1:8080"
        )
    if parts.username or parts.password:
        raise ValueError(
            f"{redact_url(value)} carries credentials, which would sit in the file in plain text; "
            "use the provider's key reference (api_key, token) instead"
        )
    try:
        parts.port  # noqa: B018 (parsing the port is the check)
    except ValueError:
        raise ValueError(f"{shown(value)} has a port that is not a number") from None
    return value.rstrip("/")


class Strict(BaseModel):
    """A config table: unknown keys are errors, values never change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)


ModelIdStr = Annotated[str, AfterValidator(_check_model_id)]
SecretRefStr = Annotated[str, AfterValidator(_check_secret_ref)]
HttpUrlStr = Annotated[str, AfterValidator(_check_http_url)]
"""An http(s) base URL without credentials (they belong in a secret reference); trailing ``/`` dropped."""
"""A secret reference (env:NAME, op://…, prefect-secret://…), never the secret itself."""
ModelChain = Annotated[list[ModelIdStr], Field(min_length=1)]
