"""Conversation threads: each agent's message history per thread, as pydantic-ai serialises it.

One JSON file per (agent, thread) under ``root/<agent>/<thread>.json``, replaced atomically (written
to a temporary file, fsynced, renamed), so a crash mid-save leaves the previous history intact. The
format is pydantic-ai's own ``ModelMessagesTypeAdapter``: a reloaded thread is exactly what the model
saw, tool calls and returns included. A thread file that cannot be read (damaged by hand or by a disk)
is moved aside to ``<thread>.json.damaged-<time>`` and the thread starts afresh, with a note saying so.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from pydantic import ValidationError
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter

from tenure.atomic import write_atomic

__all__ = ["ThreadStore"]

_THREAD_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")


class ThreadStore:
    def __init__(self, root: Path):
        self.root = root

    @staticmethod
    def check_id(thread: str) -> None:
        """Refuse a thread id that is not a plain file name (``../x``, ``/etc``, empty, too long)."""
        if not _THREAD_ID.match(thread) or thread.startswith("."):
            raise ValueError(
                f"thread id {thread!r} is not usable; "
                "use up to 128 letters, digits or . _ - : @ (e.g. telegram-4242)"
            )

    def _path(self, agent: str, thread: str) -> Path:
        self.check_id(thread)
        return self.root / agent / f"{thread}.json"

    def load(self, agent: str, thread: str) -> tuple[list[ModelMessage], str | None]:
        """The thread's history, and a note if its file was damaged and moved aside (history empty)."""
        path = self._path(agent, thread)
        try:
            return list(ModelMessagesTypeAdapter.validate_json(path.read_bytes())), None
        except FileNotFoundError:
            return [], None
        except (OSError, ValidationError, ValueError) as exc:
            aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
            path.replace(aside)
            why = str(exc).splitlines()[0] if not isinstance(exc, ValidationError) else "not a saved thread"
            return (
                [],
                f"thread file {path} could not be read ({why}); moved to {aside.name}, thread started afresh",
            )

    def save(self, agent: str, thread: str, messages: list[ModelMessage]) -> None:
        path = self._path(agent, thread)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, ModelMessagesTypeAdapter.dump_json(messages))
