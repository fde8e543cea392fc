"""The bot: python-telegram-bot's ``Application`` long-polling, with the ledger between Telegram and the
team so that each allowed message is one turn and one reply.

Order of events for an update: the update queue records it (before the next poll confirms its offset);
the guard drops strangers (counted, one fixed reply, nothing reaches a model) and repeats (the ledger
has a row), and claims the rest; a text message becomes a turn (typing… shown meanwhile), whose flow run
id is recorded as soon as it exists; ``replying`` is recorded, then the answer is sent in chunks. At
start, updates received but never claimed are handled and interrupted turns are rejoined or rerun.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections import defaultdict
from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

from telegram import Message, ReplyParameters, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationHandlerStop,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from tenure.channels.telegram.commands import COMMANDS, help_text, promotions_text, scores_text, status_text
from tenure.channels.telegram.format import split_message, to_html
from tenure.channels.telegram.news import promotion_news
from tenure.channels.telegram.turns import Reply, TurnRunner
from tenure.config import ConfigError, Env, TenureConfig, load_config
from tenure.config_channels import TelegramConfig
from tenure.store import ScoreLog
from tenure.store.telegram import Entry, Ledger

__all__ = ["STRANGER_REPLY", "Gateway"]

log = logging.getLogger("tenure.telegram")
os.environ.setdefault("PTB_TIMEDELTA", "1")  # python-telegram-bot 22's opt-in: durations as timedeltas

STRANGER_REPLY = (
    "This bot answers only the chats its owner allowed. If you are the owner, allow this chat with:\n"
    "tenure telegram allow {chat_id}"
)
SEND_ATTEMPTS = 6
"""Tries per message chunk on network errors (backoff 1, 2, 4, … s); 429s wait ``retry_after``."""

Context = ContextTypes.DEFAULT_TYPE


class _RecordingQueue(asyncio.Queue[object]):
    """The application's update queue, which puts each update on disk before the poller moves on (and
    so before the next ``getUpdates`` confirms its offset to Telegram)."""

    def __init__(self, ledger: Ledger):
        super().__init__()
        self.ledger = ledger

    async def put(self, item: object) -> None:
        if isinstance(item, Update):
            self.ledger.received(item.update_id, json.dumps(item.to_dict()))
        await super().put(item)


class Gateway:
    def __init__(
        self,
        telegram: TelegramConfig,
        config: TenureConfig,
        home: Path,
        token: str,
        turns: TurnRunner,
        api_url: str,
    ):
        self.telegram, self.config, self.turns, self.api_url = telegram, config, turns, api_url
        self.allowed = set(telegram.allowed_chats)
        self._config_stamp = _stamp(Env().config_path)
        self.ledger = Ledger.for_home(home)
        self.log = ScoreLog.for_home(home)
        self._chat_locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._claimed: dict[int, Entry] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.app = (
            Application.builder()
            .token(token)
            .base_url(telegram.base_url)
            .rate_limiter(AIORateLimiter(max_retries=3))
            .update_queue(_RecordingQueue(self.ledger))
            .concurrent_updates(True)
            .get_updates_read_timeout(telegram.poll_timeout + 10)
            .build()
        )
        self.app.add_handler(TypeHandler(Update, self._guard), group=-1)
        commands = {"start": self._help, "help": self._help, "new": self._new, "agent": self._agent}
        commands |= {"scores": self._scores, "promotions": self._promotions, "status": self._status}
        for name, callback in commands.items():
            self.app.add_handler(CommandHandler(name, callback))
        self.app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, self._text))
        self.app.add_handler(MessageHandler(filters.ALL, self._other))
        self.app.add_error_handler(self._error)

    # -- running -------------------------------------------------------------------------------

    async def serve(self, stop: asyncio.Event, *, news: bool = True) -> None:
        """Poll until ``stop`` is set; turns still running then are rejoined at the next start. With
        ``news`` (and an owner chat), promotion events are told to the owner meanwhile."""
        async with self.app:
            try:
                await self.app.bot.set_my_commands(COMMANDS)
            except TelegramError as exc:  # the menu is a convenience: the commands work without it
                log.warning("could not register the command menu (setMyCommands): %s", exc)
            await self.app.start()
            self._resume()
            updater = self.app.updater
            assert updater is not None  # the builder makes one unless told not to
            await updater.start_polling(timeout=self.telegram.poll_timeout, allowed_updates=["message"])
            log.info("polling %s as @%s", self.telegram.base_url, self.app.bot.username)
            owner = self.telegram.owner_chat
            if news and owner is not None:
                self.spawn(promotion_news(self.ledger, lambda text: self.send(owner, text)))
            await stop.wait()
            await updater.stop()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self.app.stop()
        self.ledger.close()

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _resume(self) -> None:
        for entry in self.ledger.interrupted_replies():
            log.warning("the reply to update %d was being sent when tenure stopped: it may not have arrived "
                        "in chat %d, and is not sent again", entry.update_id, entry.chat_id)  # fmt: skip
            self.ledger.step(entry.update_id, "failed", note="stopped while replying")
        for entry in self.ledger.unfinished():
            log.info("rejoining the turn for update %d (chat %d)", entry.update_id, entry.chat_id)
            self.spawn(self._turn(entry))
        for raw in self.ledger.unhandled():
            update = Update.de_json(json.loads(raw), self.app.bot)
            self.app.update_queue.put_nowait(update)

    # -- the guard: strangers, repeats, claims -------------------------------------------------

    async def _guard(self, update: Update, context: Context) -> None:
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None:
            self.ledger.dismiss(update.update_id)
            raise ApplicationHandlerStop
        if chat.id not in self.allowed and not self._allowed_now(chat.id):
            await self._stranger(update.update_id, chat.id)
            raise ApplicationHandlerStop
        text = message.text or ""
        kind = "turn" if text and not text.startswith("/") else "command"
        state = self.ledger.chat(chat.id, self.telegram.agent)
        entry = self.ledger.claim(update.update_id, chat.id, message.message_id, kind, text, state)
        if entry is None:
            log.info("update %d (chat %d) was handled before: not again", update.update_id, chat.id)
            self.ledger.dismiss(update.update_id)
            raise ApplicationHandlerStop
        self._claimed[update.update_id] = entry

    def _allowed_now(self, chat_id: int) -> bool:
        """``tenure telegram allow`` edits the config file while the bot runs: read it again when it has
        changed (a flood of strangers costs a ``stat`` each, not a parse)."""
        stamp = _stamp(Env().config_path)
        if stamp == self._config_stamp:
            return False
        self._config_stamp = stamp
        try:
            telegram = load_config().channels.telegram
        except ConfigError:  # a file broken while the bot runs: the allowlist it started with stands
            return False
        self.allowed = set(telegram.allowed_chats) if telegram else self.allowed
        return chat_id in self.allowed

    async def _stranger(self, update_id: int, chat_id: int) -> None:
        first = self.ledger.stranger(chat_id)
        log.warning("a message from chat %d, which is not allowed: no turn (tenure telegram allow %d)",
                    chat_id, chat_id)  # fmt: skip
        if first:
            await self._send(chat_id, STRANGER_REPLY.format(chat_id=chat_id))
        self.ledger.dismiss(update_id)

    # -- turns ---------------------------------------------------------------------------------

    async def _text(self, update: Update, context: Context) -> None:
        await self._turn(self._claimed.pop(update.update_id))

    async def _turn(self, entry: Entry) -> None:
        async with self._chat_locks[entry.chat_id]:
            typing = asyncio.create_task(self._typing(entry.chat_id))
            try:
                reply = await self.turns.run(
                    entry, lambda run_id: self.ledger.step(entry.update_id, "submitted", flow_run_id=run_id)
                )
            except Exception as exc:  # the chat hears of it, whatever went wrong
                log.exception("the turn for update %d failed", entry.update_id)
                why = f"{type(exc).__name__}: {exc}"
                reply = Reply(
                    f"Sorry, that did not work: {why}", f"A turn for chat {entry.chat_id} failed: {why}"
                )
            finally:
                typing.cancel()
            await self._reply(entry, reply)

    async def _typing(self, chat_id: int) -> None:
        """Telegram shows typing… for 5 s per action: renew it until the answer is there."""
        while True:
            with contextlib.suppress(TelegramError):
                await self.app.bot.send_chat_action(chat_id, ChatAction.TYPING)
            await asyncio.sleep(4.5)

    async def _reply(self, entry: Entry, reply: Reply) -> None:
        self.ledger.step(entry.update_id, "replying")
        sent = await self._send(entry.chat_id, reply.text, entry.message_id)
        self.ledger.step(entry.update_id, "replied" if sent else "failed", note=None if sent else "not sent")
        owner = self.telegram.owner_chat
        if reply.failure and owner is not None and owner != entry.chat_id:
            await self._send(owner, reply.failure)

    # -- sending -------------------------------------------------------------------------------

    async def send(self, chat_id: int, text: str) -> bool:
        """Send ``text`` to a chat (the owner's news goes this way too); False if it could not be sent."""
        return await self._send(chat_id, text)

    async def _send(self, chat_id: int, text: str, reply_to: int | None = None) -> bool:
        for chunk in split_message(text) or ["(empty answer)"]:
            if not await self._send_chunk(chat_id, chunk, reply_to):
                return False
            reply_to = None  # the first chunk answers the message; the rest follow it
        return True

    async def _send_chunk(self, chat_id: int, chunk: str, reply_to: int | None) -> bool:
        to = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        for attempt in range(SEND_ATTEMPTS):
            try:
                try:
                    await self.app.bot.send_message(
                        chat_id, to_html(chunk), ParseMode.HTML, reply_parameters=to
                    )
                except BadRequest as exc:
                    if "parse" not in exc.message.lower():
                        raise
                    log.warning("Telegram could not parse a reply's formatting (%s): sent as plain text", exc)
                    await self.app.bot.send_message(chat_id, chunk, reply_parameters=to)
                return True
            except RetryAfter as exc:  # the rate limiter retried thrice already; keep waiting as told
                wait = exc.retry_after
                await asyncio.sleep(wait.total_seconds() if isinstance(wait, timedelta) else float(wait))
            except BadRequest as exc:
                log.error("Telegram refused a message to chat %d: %s", chat_id, exc.message)
                return False
            except NetworkError as exc:
                log.warning("sending to chat %d failed (%s); attempt %d of %d", chat_id, exc, attempt + 1,
                            SEND_ATTEMPTS)  # fmt: skip
                await asyncio.sleep(min(2**attempt, 30))
            except TelegramError as exc:
                log.error("could not send to chat %d: %s", chat_id, exc)
                return False
        log.error("gave up sending to chat %d after %d attempts", chat_id, SEND_ATTEMPTS)
        return False

    # -- commands ------------------------------------------------------------------------------

    async def _command(self, update: Update, text: str) -> None:
        await self._reply(self._claimed.pop(update.update_id), Reply(text))

    async def _help(self, update: Update, context: Context) -> None:
        entry = self._claimed[update.update_id]
        await self._command(update, help_text(self.config, entry.agent, entry.thread))

    async def _new(self, update: Update, context: Context) -> None:
        entry = self._claimed[update.update_id]
        self.ledger.new_thread(entry.chat_id)
        thread = self.ledger.chat(entry.chat_id, self.telegram.agent).thread
        await self._command(update, f"A fresh conversation: thread {thread}.")

    async def _agent(self, update: Update, context: Context) -> None:
        entry, name = self._claimed[update.update_id], " ".join(context.args or []).strip().lower()
        team = ", ".join(self.config.agents)
        if not name:
            text = f"{entry.agent} answers here. The team: {team}. Pick one with /agent NAME."
        elif name not in self.config.agents:
            text = f"There is no agent named {name!r}. The team: {team}."
        else:
            self.ledger.set_agent(entry.chat_id, name)
            text = f"{name} answers here from now on."
        await self._command(update, text)

    async def _scores(self, update: Update, context: Context) -> None:
        await self._command(update, await asyncio.to_thread(scores_text, self.log, self.config))

    async def _promotions(self, update: Update, context: Context) -> None:
        await self._command(update, await asyncio.to_thread(promotions_text, self.log))

    async def _status(self, update: Update, context: Context) -> None:
        await self._command(update, await status_text(self.api_url, self.config.prefect.pool))

    async def _other(self, update: Update, context: Context) -> None:
        message = update.effective_message
        is_command = isinstance(message, Message) and (message.text or "").startswith("/")
        await self._command(update, "Unknown command; /help lists mine." if is_command
                            else "I read text messages only.")  # fmt: skip

    async def _error(self, update: object, context: Context) -> None:
        log.error("handling an update failed: %s", context.error, exc_info=context.error)
        if isinstance(update, Update):
            entry = self._claimed.pop(update.update_id, None)
            if entry is not None:
                await self._reply(entry, Reply(f"Sorry, that did not work: {context.error}"))


def _stamp(path: Path) -> int | None:
    """When the file last changed (``None``: it does not exist)."""
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None
