"""The Telegram channel's ledger: which updates were handled, how far each got, and each chat's state.

A SQLite file (``$TENURE_HOME/state/telegram.sqlite``, WAL, ``synchronous=FULL``) so that every step is
on disk before the next one starts: an update is claimed before anything else happens, a turn's flow run
id is recorded as soon as it exists, and ``replying`` is recorded before the reply is sent. An update
seen again (Telegram re-delivers until the offset is confirmed; a restart re-reads) finds its row and
starts nothing; a turn that a restart interrupted is found by :meth:`Ledger.unfinished`, and an update
received but not yet claimed when the process stopped by :meth:`Ledger.unhandled`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["ChatState", "Entry", "Ledger"]

Step = Literal["claimed", "submitted", "replying", "replied", "failed"]
Kind = Literal["turn", "command"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS updates (
    update_id INTEGER PRIMARY KEY, chat_id INTEGER NOT NULL, message_id INTEGER, kind TEXT NOT NULL,
    text TEXT NOT NULL, agent TEXT NOT NULL, thread TEXT NOT NULL, step TEXT NOT NULL,
    flow_run_id TEXT, note TEXT, created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS chats (
    chat_id INTEGER PRIMARY KEY, agent TEXT, thread_n INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS strangers (
    chat_id INTEGER PRIMARY KEY, first_seen REAL NOT NULL, last_seen REAL NOT NULL,
    messages INTEGER NOT NULL, told INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS inbox (update_id INTEGER PRIMARY KEY, raw TEXT NOT NULL, received REAL NOT NULL);
CREATE TABLE IF NOT EXISTS news (event_id TEXT PRIMARY KEY, occurred TEXT NOT NULL, sent REAL NOT NULL);
"""


@dataclass(frozen=True)
class Entry:
    update_id: int
    chat_id: int
    message_id: int | None
    kind: Kind
    text: str
    agent: str
    thread: str
    step: Step
    flow_run_id: str | None


@dataclass(frozen=True)
class ChatState:
    agent: str
    thread: str


class Ledger:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    @classmethod
    def for_home(cls, home: Path) -> Ledger:
        return cls(home / "state" / "telegram.sqlite")

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- updates -----------------------------------------------------------------------------

    def received(self, update_id: int, raw: str) -> None:
        """Keep an update as Telegram sent it, before its offset is confirmed (the next poll does that),
        so one that the process never got to handle is handled after a restart (:meth:`unhandled`)."""
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO inbox VALUES (?, ?, ?)", (update_id, raw, time.time()))

    def unhandled(self) -> list[str]:
        """Updates received but neither claimed nor dismissed, oldest first, as Telegram sent them."""
        return [raw for (raw,) in self._db.execute("SELECT raw FROM inbox ORDER BY update_id").fetchall()]

    def dismiss(self, update_id: int) -> None:
        """An update that needs no row of its own (a stranger's, a repeat) is done with."""
        with self._tx() as db:
            db.execute("DELETE FROM inbox WHERE update_id = ?", (update_id,))

    def claim(
        self, update_id: int, chat_id: int, message_id: int | None, kind: Kind, text: str, chat: ChatState
    ) -> Entry | None:
        """Record an update before anything is done about it; ``None`` if it was seen before (its row
        says how far it got, and :meth:`unfinished` hands out the turns a restart interrupted)."""
        now = time.time()
        with self._tx() as db:
            db.execute("DELETE FROM inbox WHERE update_id = ?", (update_id,))
            cursor = db.execute(
                "INSERT OR IGNORE INTO updates VALUES (?, ?, ?, ?, ?, ?, ?, 'claimed', NULL, NULL, ?, ?)",
                (update_id, chat_id, message_id, kind, text, chat.agent, chat.thread, now, now),
            )
        if cursor.rowcount == 0:
            return None
        return Entry(update_id, chat_id, message_id, kind, text, chat.agent, chat.thread, "claimed", None)

    def step(
        self, update_id: int, step: Step, *, flow_run_id: str | None = None, note: str | None = None
    ) -> None:
        """Move an update on (``replying`` is written before a reply is sent, so none is sent twice)."""
        with self._tx() as db:
            db.execute(
                "UPDATE updates SET step = ?, flow_run_id = coalesce(?, flow_run_id),"
                " note = coalesce(?, note), updated = ? WHERE update_id = ?",
                (step, flow_run_id, note, time.time(), update_id),
            )

    def get(self, update_id: int) -> Entry | None:
        row = self._db.execute(
            "SELECT update_id, chat_id, message_id, kind, text, agent, thread, step, flow_run_id"
            " FROM updates WHERE update_id = ?",
            (update_id,),
        ).fetchone()
        return Entry(*row) if row else None

    def unfinished(self) -> list[Entry]:
        """Turns claimed but not yet answered (a restart interrupted them), oldest first."""
        rows = self._db.execute(
            "SELECT update_id, chat_id, message_id, kind, text, agent, thread, step, flow_run_id"
            " FROM updates WHERE kind = 'turn' AND step IN ('claimed', 'submitted') ORDER BY update_id"
        ).fetchall()
        return [Entry(*row) for row in rows]

    def interrupted_replies(self) -> list[Entry]:
        """Turns whose reply was being sent when the process stopped: maybe delivered, never resent."""
        rows = self._db.execute(
            "SELECT update_id, chat_id, message_id, kind, text, agent, thread, step, flow_run_id"
            " FROM updates WHERE step = 'replying' ORDER BY update_id"
        ).fetchall()
        return [Entry(*row) for row in rows]

    # -- chats -------------------------------------------------------------------------------

    def chat(self, chat_id: int, default_agent: str) -> ChatState:
        """Who answers in this chat and the thread its messages continue."""
        row = self._db.execute("SELECT agent, thread_n FROM chats WHERE chat_id = ?", (chat_id,)).fetchone()
        agent, n = row if row else (None, 0)
        return ChatState(agent or default_agent, f"telegram-{chat_id}" + (f"-{n}" if n else ""))

    def set_agent(self, chat_id: int, agent: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO chats (chat_id, agent) VALUES (?, ?)"
                " ON CONFLICT (chat_id) DO UPDATE SET agent = excluded.agent",
                (chat_id, agent),
            )

    def new_thread(self, chat_id: int) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO chats (chat_id, thread_n) VALUES (?, 1)"
                " ON CONFLICT (chat_id) DO UPDATE SET thread_n = thread_n + 1",
                (chat_id,),
            )

    # -- strangers and news ------------------------------------------------------------------

    def stranger(self, chat_id: int) -> bool:
        """Count a message from a chat that is not allowed; True the first time (the one reply it gets)."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO strangers VALUES (?, ?, ?, 1, 0) ON CONFLICT (chat_id)"
                " DO UPDATE SET last_seen = excluded.last_seen, messages = messages + 1",
                (chat_id, now, now),
            )
            told = db.execute("UPDATE strangers SET told = 1 WHERE chat_id = ? AND told = 0", (chat_id,))
        return told.rowcount == 1

    def strangers(self) -> list[tuple[int, int, float]]:
        """(chat id, messages, last seen) of the chats that wrote without being allowed."""
        return self._db.execute(
            "SELECT chat_id, messages, last_seen FROM strangers ORDER BY last_seen DESC"
        ).fetchall()

    def news_sent(self, event_id: str, occurred: str) -> bool:
        """Record that an event's news goes out; False if it already did."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO news VALUES (?, ?, ?)", (event_id, occurred, time.time())
            )
        return cursor.rowcount == 1

    def last_news(self) -> str | None:
        """When the newest event whose news went out occurred (ISO), to catch up from after a restart."""
        return self._db.execute("SELECT max(occurred) FROM news").fetchone()[0]
