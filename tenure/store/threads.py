"""Conversation threads: each agent's message history per thread, as pydantic-ai serialises it.

One JSON file per (agent, thread) under ``root/<agent>/<thread>.json``, replaced atomically (written
to a temporary file, fsynced, renamed), so a crash mid-save leaves the previous history intact. The
format is pydantic-ai's own ``ModelMessagesTypeAdapter``: a reloaded thread is exactly what the model
saw, tool calls and returns included.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter

from tenure.atomic import write_atomic

__all__ = ["ThreadStore"]

_THREAD_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")


class ThreadStore:
    def __init__(self, root: Path):
        self.root = root

    def _path(self, agent: str, thread: str) -> Path:
        if not _THREAD_ID.match(thread) or thread.startswith("."):
            raise ValueError(
                f"thread id {thread!r} is not usable; "
                "use up to 128 letters, digits or . _ - : @ (e.g. telegram-4242)"
            )
        return self.root / agent / f"{thread}.json"

    def load(self, agent: str, thread: str) -> list[ModelMessage]:
        path = self._path(agent, thread)
        if not path.exists():
            return []
        return list(ModelMessagesTypeAdapter.validate_json(path.read_bytes()))

    def save(self, agent: str, thread: str, messages: list[ModelMessage]) -> None:
        path = self._path(agent, thread)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, ModelMessagesTypeAdapter.dump_json(messages))
