"""Whether a candidate model can answer here, asked before any flow starts: a wrong id, a model Ollama
has not pulled or a provider without a key then costs one clear line, not a flow that retries for a
minute and ends in a traceback (or, worse, exits 0 with nothing scored)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tenure.config import TenureConfig
from tenure.model_ids import parse_model_id
from tenure.models.providers import Unusable, build_model

__all__ = ["DEFAULT_OLLAMA", "START_OLLAMA", "Unavailable", "check_candidates", "ollama_models"]

DEFAULT_OLLAMA = "http://127.0.0.1:11434"


START_OLLAMA = "start it with 'ollama serve' or set providers.ollama.base_url"


class Unavailable(Exception):
    """The model cannot answer here (Ollama down, no key); the message says why and what to do."""


def ollama_models(config: TenureConfig) -> list[str]:
    """The models Ollama has pulled (``name:tag``); ``Unavailable`` if it does not answer in 3 s."""
    import ollama

    host = config.providers.ollama.base_url or DEFAULT_OLLAMA
    try:
        return [m.model for m in ollama.Client(host=host, timeout=3).list().models if m.model]
    except Exception as exc:  # connection refused, DNS, timeout, not Ollama: all "not reachable"
        raise Unavailable(
            f"Ollama is not reachable at {host} ({type(exc).__name__}); {START_OLLAMA}"
        ) from None


def check_candidates(ids: Sequence[str], config: TenureConfig, home: Path) -> None:
    """Refuse ids that are not model ids (``ValueError``) or Ollama models not pulled (``ValueError``
    listing the pulled ones); ``Unavailable`` for a candidate that cannot answer here."""
    for text in ids:
        parse_model_id(text)
    pulled: list[str] | None = None
    for text in ids:
        mid = parse_model_id(text)
        if mid.provider == "ollama":
            pulled = ollama_models(config) if pulled is None else pulled
            if mid.name not in pulled and f"{mid.name}:latest" not in pulled:
                have = ", ".join(pulled) or "none"
                raise ValueError(
                    f"{text}: Ollama has not pulled {mid.name} (pulled: {have}); ollama pull {mid.name}"
                )
        else:
            try:
                build_model(mid, config, home)
            except Unusable as exc:
                raise Unavailable(f"{text} cannot answer here: {exc}") from None
