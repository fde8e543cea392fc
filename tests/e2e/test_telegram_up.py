"""The Telegram bot as a user runs it: `tenure up`, then `tenure telegram run` against a loopback Bot API,
each message a run of the `agent_turn` deployment on the worker. The bot is SIGKILLed right after it
submitted a run and started again: the chat still gets exactly one reply, from exactly one run."""

from __future__ import annotations

import asyncio
import html
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tenure.channels.telegram.format import to_html
from tenure.store import ScoreLog
from tenure.store.telegram import Ledger
from tests.e2e.stack import BIN, run_ok
from tests.fakes.telegram_server import FakeBotAPI

pytestmark = pytest.mark.slow

OWNER = 4242


def _bot(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen([str(BIN / "tenure"), "telegram", "run"], env=env, stdout=sink, stderr=sink)


def _submitted(home: Path, update_id: int, timeout: float = 120) -> str:
    """The flow run id the bot recorded for an update, as soon as it is on disk."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        path = Ledger.for_home(home).path
        if path.exists():
            ledger = Ledger(path)
            entry = ledger.get(update_id)
            ledger.close()
            if entry is not None and entry.flow_run_id:
                return entry.flow_run_id
        time.sleep(0.05)
    raise AssertionError(f"update {update_id} was not submitted within {timeout} s")


async def _telegram_runs(api_url: str) -> list[str]:
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    async with PrefectClient(api=api_url) as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=["channel:telegram"]))
        )
    return [str(run.id) for run in runs]


def test_a_bot_killed_mid_turn_replies_once_after_a_restart(home: dict[str, str]):
    tenure_home = Path(home["TENURE_HOME"])
    log = tenure_home / "telegram-bot.log"
    with FakeBotAPI() as api:
        config = Path(home["TENURE_CONFIG"])
        config.write_text(
            config.read_text()
            + f'[channels.telegram]\nbase_url = "{api.base_url}"\nallowed_chats = [{OWNER}]\n'
            + f"owner_chat = {OWNER}\npoll_timeout = 1\n"
        )
        env = {**home, "TELEGRAM_BOT_TOKEN": api.token}
        up = run_ok(env, str(BIN / "tenure"), "up")
        api_url = up.stdout.split("export PREFECT_API_URL=")[1].split()[0]

        bot = _bot(env, log)
        try:
            update = api.push_message(OWNER, "Say hello.")
            run_id = _submitted(tenure_home, update)
        finally:
            bot.send_signal(signal.SIGKILL)  # mid-turn: submitted, not answered (or the test failed)
            bot.wait(30)
        assert api.sent == []

        bot = _bot(env, log)
        try:
            [reply] = api.wait_for_sent(1, timeout=300)
            api.redeliver(update)  # and Telegram delivers it once more
            polls = len(api.calls("getUpdates"))
            api.wait_for_calls("getUpdates", polls + 3, timeout=60)
        finally:
            bot.send_signal(signal.SIGTERM)
            code = bot.wait(60)
        output = log.read_text()
        assert code == 0, output[-3000:]
        assert len(api.sent) == 1 and reply.chat_id == OWNER, output[-3000:]
        assert asyncio.run(_telegram_runs(api_url)) == [run_id]  # one run, picked up by the worker
        row = ScoreLog.for_home(tenure_home).run(run_id)
        assert row is not None and row.task_id == f"telegram-{OWNER}"
        shown = to_html((row.output or "").strip() or "(empty answer)")  # as the bot formats it
        assert reply.plain_text == html.unescape(re.sub(r"<[^>]+>", "", shown)).strip()
        assert "rejoining the turn for update" in output
        assert api.token not in output  # request URLs hold the token: never logged
