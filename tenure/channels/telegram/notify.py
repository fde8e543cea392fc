"""A message to the owner chat from anywhere (a flow run, a command), without running the bot: the
same Bot API, the same chunking, plain text."""

from __future__ import annotations

from telegram import Bot

from tenure.channels.telegram.format import split_message
from tenure.config_channels import TelegramConfig
from tenure.secrets import resolve

__all__ = ["tell_owner"]


async def tell_owner(telegram: TelegramConfig, text: str) -> int:
    """Send ``text`` to ``owner_chat`` (in chunks under Telegram's limit); returns the messages sent (0
    when there is no owner chat)."""
    if telegram.owner_chat is None:
        return 0
    token = resolve(telegram.token).get_secret_value()
    chunks = split_message(text)
    async with Bot(token, base_url=telegram.base_url) as bot:
        for chunk in chunks:
            await bot.send_message(telegram.owner_chat, chunk)
    return len(chunks)
