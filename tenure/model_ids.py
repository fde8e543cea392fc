"""Model ids: ``provider:name``, e.g. ``anthropic:claude-opus-4-6`` or ``ollama:qwen2.5:latest``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast, get_args

__all__ = ["MODEL_ID_FORMS", "PROVIDERS", "ModelId", "parse_model_id"]

Provider = Literal["anthropic", "openai", "ollama", "local"]
PROVIDERS: tuple[str, ...] = get_args(Provider)
MODEL_ID_FORMS = "anthropic:NAME, openai:NAME, ollama:NAME[:TAG] or local:gemma-3-270m"
LOCAL_MODELS = ("gemma-3-270m",)


@dataclass(frozen=True)
class ModelId:
    """A parsed model id. ``str()`` gives back the canonical text."""

    provider: Provider
    name: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.name}"


def parse_model_id(text: str | ModelId) -> ModelId:
    """Split on the first colon; Ollama names keep their own ``:tag``."""
    if isinstance(text, ModelId):
        return text
    provider, sep, name = text.partition(":")
    if not sep or not name or provider not in PROVIDERS or name != name.strip() or " " in name:
        raise ValueError(f"'{text}' is not a model id; expected {MODEL_ID_FORMS}")
    if provider == "local" and name not in LOCAL_MODELS:
        raise ValueError(f"'{text}' is not an embedded model; the embedded model is local:{LOCAL_MODELS[0]}")
    return ModelId(cast(Provider, provider), name)  # checked against PROVIDERS above
