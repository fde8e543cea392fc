"""The value types config sections share: strict frozen tables, model ids and secret references, each
checked where it is parsed so a bad value is reported with its key."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from tenure.model_ids import parse_model_id
from tenure.secrets import parse_secret_ref

__all__ = ["ModelChain", "ModelIdStr", "SecretRefStr", "Strict"]


def _check_model_id(value: str) -> str:
    parse_model_id(value)
    return value


def _check_secret_ref(value: str) -> str:
    parse_secret_ref(value)
    return value


class Strict(BaseModel):
    """A config table: unknown keys are errors, values never change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)


ModelIdStr = Annotated[str, AfterValidator(_check_model_id)]
SecretRefStr = Annotated[str, AfterValidator(_check_secret_ref)]
"""A secret reference (env:NAME, op://…, prefect-secret://…), never the secret itself."""
ModelChain = Annotated[list[ModelIdStr], Field(min_length=1)]
