"""``tenure telegram``: run the bot, allow a chat, see who wrote without being allowed."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from tenure.atomic import write_atomic
from tenure.cli.common import err, fail, load, out
from tenure.cli.render import render_table
from tenure.config import ConfigError, Env, parse_config

if TYPE_CHECKING:
    from tenure.channels.telegram.bot import Gateway
    from tenure.config_channels import TelegramConfig
    from tenure.runtime import Runtime

__all__ = ["telegram_app"]

telegram_app = typer.Typer(
    help="Talk to the team from Telegram: each message from an allowed chat is one agent_turn run.",
    no_args_is_help=True,
)

NOT_CONFIGURED = (
    "no [channels.telegram] table in {path}; add one (README → Telegram), e.g.\n"
    '  [channels.telegram]\n  token = "op://Private/Telegram bot/token"\n  allowed_chats = []'
)


def _telegram(rt: Runtime) -> TelegramConfig:
    telegram = rt.config.channels.telegram
    if telegram is None:
        fail(NOT_CONFIGURED.format(path=Env().config_path))
    return telegram


@telegram_app.command("run")
def run(
    inline: Annotated[
        bool,
        typer.Option(
            "--inline", help="Run each turn in this process (no worker needed) instead of on the worker."
        ),
    ] = False,
) -> None:
    """Long-poll Telegram until Ctrl-C (or SIGTERM). Each allowed message becomes one run of the
    [bold]agent_turn[/bold] deployment on the worker ([bold]tenure up[/bold] first), and one reply."""
    from tenure.deployments.api import answers, api_url, ui_url
    from tenure.secrets import SecretError, install_redaction, resolve

    rt = load()
    telegram = _telegram(rt)
    try:
        token = resolve(telegram.token).get_secret_value()
    except SecretError as exc:
        fail(f"channels.telegram.token: {exc}", 1)
    install_redaction()
    api = api_url(rt.config.prefect)
    served = answers(api)
    if not inline and not served:
        fail(f"no Prefect API answers at {api}: start it with `tenure up`, or run with --inline", 1)
    if served:
        os.environ["PREFECT_API_URL"] = api  # before Prefect loads: it reads its settings once
    from tenure.channels.telegram.bot import Gateway
    from tenure.channels.telegram.turns import DeploymentTurns, InlineTurns, TurnRunner

    if not telegram.allowed_chats:
        err.print("[yellow]no chat is allowed yet[/yellow]: message the bot, then run "
                  "`tenure telegram strangers` and `tenure telegram allow CHAT_ID`")  # fmt: skip
    turns: TurnRunner = (
        InlineTurns(ui_url(api)) if inline else DeploymentTurns(rt.home, ui_url(api), telegram.turn_timeout)
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "telegram", "apscheduler"):  # httpx would log URLs with the token
        logging.getLogger(noisy).setLevel(logging.WARNING)
    gateway = Gateway(telegram, rt.config, rt.home, token, turns, api)
    out.print(f"tenure telegram: {telegram.agent} answers; turns run {'here' if inline else 'on the worker'}")
    asyncio.run(_serve(gateway, news=served))


async def _serve(gateway: Gateway, news: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await gateway.serve(stop, news=news)


@telegram_app.command("allow", context_settings={"ignore_unknown_options": True})  # group ids are < 0
def allow(
    chat_id: Annotated[int, typer.Argument(help="The chat id (tenure telegram strangers lists who wrote).")],
    owner: Annotated[
        bool, typer.Option("--owner", help="Also make it the owner chat (promotion news, failures).")
    ] = False,
) -> None:
    """Let a chat talk to the team: adds it to channels.telegram.allowed_chats in tenure.toml (a running
    bot reads the file again at that chat's next message)."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    path = Env().config_path
    try:
        doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    except (OSError, UnicodeDecodeError, TOMLKitError) as exc:
        fail(f"{path}: cannot be read as TOML: {exc}")
    channels = doc.setdefault("channels", tomlkit.table(is_super_table=True))
    table = channels.setdefault("telegram", tomlkit.table())
    chats = table.setdefault("allowed_chats", tomlkit.array())
    if chat_id not in chats:
        chats.append(chat_id)
    if owner:
        table["owner_chat"] = chat_id
    try:
        parse_config(doc.unwrap(), path)
    except ConfigError as exc:
        fail(f"not changed, the result would be invalid:\n{exc}")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, tomlkit.dumps(doc).encode("utf-8"))
    out.print(f"chat {chat_id} may talk to the team{' and is the owner chat' if owner else ''} ({path})")


@telegram_app.command("strangers")
def strangers() -> None:
    """Chats that wrote to the bot without being allowed (nothing they sent reached a model)."""
    from tenure.store.telegram import Ledger

    rt = load()
    path = Ledger.for_home(rt.home).path
    if not path.exists():
        out.print("no message has reached the bot yet")
        return
    ledger = Ledger(path)
    rows = [(str(c), str(n), f"{datetime.fromtimestamp(t):%Y-%m-%d %H:%M}") for c, n, t in ledger.strangers()]
    ledger.close()
    if not rows:
        out.print("no stranger has written")
        return
    render_table(["chat id", "messages", "last"], rows, title="not allowed")
    out.print("allow one with: tenure telegram allow CHAT_ID")
