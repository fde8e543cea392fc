"""Asking a model (or a chain) for a task's answer, in the form its kind of model can give."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tenure.config import TenureConfig
from tenure.control.golden import shots_for
from tenure.control.task import Task
from tenure.model_ids import parse_model_id
from tenure.models import CallFailed, CallResult, ChainUnavailable, call

__all__ = ["Answer", "answer"]


@dataclass
class Answer:
    """A model's parsed output for a task, with the model layer's record (or the error that stopped it)."""

    output: Any
    result: CallResult | None
    error: str | None = None


def _is_base_model(target: str) -> bool:
    return ":" in target and parse_model_id(target).provider == "local"


def _base_model_of(target: str, config: TenureConfig) -> str | None:
    """The base model at the end of chain ``target`` (offline, it is what can still answer), if any."""
    if ":" in target or target not in config.chains:
        return None
    return next((m for m in config.chains[target] if _is_base_model(m)), None)


async def answer(task: Task, target: str, config: TenureConfig, home: Path) -> Answer:
    """Ask ``target`` (a model id or chain name). Base models get the few-shot completion prompt and
    their text is parsed; instruction models get the chat prompt and, where the type has one, the
    structured output model. A chain whose instruction models all fail (no keys, no Ollama) falls to its
    base model with the few-shot prompt, so commodity tasks still get an answer offline. A failure is
    an ``Answer`` with its error, never an exception."""
    kind, data = task.kind, task.data()
    try:
        if _is_base_model(target):
            result = await call(
                kind.completion(data, shots_for(task)), config=config, home=home, target=target,
                max_tokens=kind.max_tokens, stop=list(kind.stop),
            )  # fmt: skip
            return Answer(kind.parse(str(result.output), data), result)
        system, user = kind.chat(data)
        result = await call(
            user, config=config, home=home, target=target, system=system, output_type=kind.output_model or str
        )
    except (CallFailed, ChainUnavailable) as exc:
        base = _base_model_of(target, config)
        if base is not None:  # no instruction model of the chain answered: its embedded end does
            return await answer(task, base, config, home)
        return Answer(None, exc.result if isinstance(exc, CallFailed) else None, str(exc))
    output = result.output
    if isinstance(output, BaseModel):
        output = kind.from_structured(output, data)
    return Answer(output, result)
