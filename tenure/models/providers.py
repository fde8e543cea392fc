"""How each kind of model id is reached: the pydantic-ai model for an id, built from config.

anthropic → Anthropic Messages API, openai → OpenAI Chat Completions, ollama → Ollama's
OpenAI-compatible endpoint (``{base_url}/v1``), local → the embedded llama.cpp model. The SDKs' own
retries are switched off (``max_retries=0``): the chain retries, so that every attempt is recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic_ai.models import Model
from pydantic_ai.settings import ModelSettings

from tenure.model_ids import ModelId, parse_model_id
from tenure.models.local import local_pydantic_model
from tenure.secrets import SecretError, resolve

if TYPE_CHECKING:
    from pathlib import Path

    from tenure.config import TenureConfig

__all__ = ["Unusable", "build_model"]


class Unusable(Exception):
    """This model cannot be used with the current configuration; the message says why."""


def build_model(model_id: ModelId | str, config: TenureConfig, home: Path) -> Model:
    """A pydantic-ai model for ``model_id``, or ``Unusable`` naming the missing piece."""
    mid = parse_model_id(model_id)
    options = config.models.get(str(mid))
    if mid.provider == "local":
        return local_pydantic_model(config.providers.local, home / "models")
    provider = getattr(config.providers, mid.provider)
    settings = ModelSettings(
        max_retries=0,
        timeout=(options and options.timeout) or provider.timeout,
        max_tokens=(options and options.max_tokens) or provider.max_tokens,
    )
    if mid.provider == "ollama":
        from pydantic_ai.models.ollama import OllamaModel
        from pydantic_ai.providers.ollama import OllamaProvider

        base = (provider.base_url or "http://127.0.0.1:11434").rstrip("/")
        key = _key(mid, provider.api_key) if provider.api_key else "ollama"
        return OllamaModel(
            mid.name, provider=OllamaProvider(base_url=f"{base}/v1", api_key=key), settings=settings
        )
    if provider.api_key is None:
        raise Unusable(f"no api_key configured for {mid.provider} (set providers.{mid.provider}.api_key)")
    key = _key(mid, provider.api_key)
    if mid.provider == "anthropic":
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        return AnthropicModel(
            mid.name, provider=AnthropicProvider(api_key=key, base_url=provider.base_url), settings=settings
        )
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    return OpenAIChatModel(
        mid.name, provider=OpenAIProvider(api_key=key, base_url=provider.base_url), settings=settings
    )


def _key(mid: ModelId, reference: str) -> str:
    try:
        return resolve(reference).get_secret_value()
    except SecretError as exc:
        raise Unusable(f"no key ({exc})") from None
