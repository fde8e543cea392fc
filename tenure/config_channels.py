"""The ``[channels.*]`` tables: the ways into the team other than the CLI. A channel with no table is
off; its secrets are references, like the providers' keys."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from tenure.config_types import SecretRefStr, Strict

__all__ = ["ChannelsConfig", "TelegramConfig"]


class TelegramConfig(Strict):
    """A Telegram bot that lets the allowed chats talk to one agent (``tenure telegram run``)."""

    token: SecretRefStr = "env:TELEGRAM_BOT_TOKEN"
    """The bot's token from BotFather, as a secret reference."""
    base_url: str = "https://api.telegram.org/bot"
    """The Bot API address, to which the token is appended; a self-hosted Bot API server works too."""
    allowed_chats: list[int] = []
    """Chats whose messages start a turn (``tenure telegram allow CHAT_ID``); any other chat costs
    nothing and gets one short reply saying how to allow it."""
    owner_chat: int | None = None
    """Where promotion news and failed turns are reported; ``None``: nowhere."""
    agent: str = "loki"
    """Who answers, until a chat picks another with ``/agent NAME``."""
    poll_timeout: Annotated[int, Field(ge=1, le=50)] = 30
    """Seconds one long poll (``getUpdates``) waits for a message."""
    turn_timeout: Annotated[float, Field(gt=0)] = 900.0
    """Seconds to wait for a turn's flow run before replying that it is still running."""


class ChannelsConfig(Strict):
    telegram: TelegramConfig | None = None
