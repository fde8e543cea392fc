"""The ``[channels.*]`` tables: the ways into the team other than the CLI. A channel with no table is
off; its secrets are references, like the providers' keys."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from tenure.config_types import HttpUrlStr, SecretRefStr, Strict

__all__ = ["DEFAULT_LABELS", "ChannelsConfig", "ImapConfig", "TelegramConfig"]

DEFAULT_LABELS = ("urgent", "reply_needed", "fyi", "newsletter", "receipt", "spam")


class TelegramConfig(Strict):
    """A Telegram bot that lets the allowed chats talk to one agent (``tenure telegram run``)."""

    token: SecretRefStr = "env:TELEGRAM_BOT_TOKEN"
    """The bot's token from BotFather, as a secret reference."""
    base_url: HttpUrlStr = "https://api.telegram.org/bot"
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


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ImapConfig(Strict):
    """The inbox Liv triages, read-only over IMAP (Proton Bridge's local server, or any other)."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 1143
    """1143 is Proton Bridge's default."""
    username: str
    password: SecretRefStr
    security: Literal["ssl", "starttls", "plain"] = "starttls"
    """``plain`` (no TLS) is allowed for loopback hosts only."""
    ca_file: Path | None = None
    """A certificate to trust for this server (Bridge's self-signed one), pinned; empty: the system's."""
    folder: str = "INBOX"
    labels: Annotated[list[str], Field(min_length=2)] = list(DEFAULT_LABELS)
    batch: Annotated[int, Field(ge=1, le=500)] = 25
    """Messages fetched per IMAP command (and triaged per Prefect task)."""
    max_message_bytes: Annotated[int, Field(ge=10_000)] = 2_000_000
    """A bigger message is read in parts: its headers and text parts only, attachments only listed."""
    max_text_chars: Annotated[int, Field(ge=500, le=100_000)] = 12_000
    """Characters of a message's text the models see (the rest is cut, and the record says so)."""
    timeout: Annotated[float, Field(gt=0)] = 60.0
    digest_to_vault: bool = False
    """Also append each digest to the vault's daily note (``daily/YYYY-MM-DD.md``)."""

    @field_validator("ca_file", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else Path(str(value)).expanduser() if value is not None else None

    @model_validator(mode="after")
    def _plain_on_loopback_only(self) -> ImapConfig:
        if self.security == "plain" and not is_loopback(self.host):
            raise ValueError(
                f"security: plain sends the password unencrypted; it is allowed for loopback hosts only, "
                f"not {self.host!r} (use starttls or ssl)"
            )
        return self


class ChannelsConfig(Strict):
    telegram: TelegramConfig | None = None
    imap: ImapConfig | None = None
