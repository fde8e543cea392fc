"""The Telegram channel's parts that need no Prefect: reply formatting, the ledger, the doctor's checks,
the service unit and the ``tenure telegram`` commands that edit the config."""

from __future__ import annotations

import plistlib
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tenure.channels.telegram.format import LIMIT, split_message, to_html
from tenure.cli import app
from tenure.config import load_config, parse_config
from tenure.deployments.services import launchd_plist, services, systemd_unit
from tenure.doctor import check_telegram
from tenure.store.telegram import ChatState, Ledger
from tests.fakes.telegram_server import FakeBotAPI, parse_html

# -- formatting ------------------------------------------------------------------------------------


def test_markdown_becomes_telegram_html_and_everything_else_is_escaped():
    text = "Use **bold**, `a<b`, [docs](https://e.com/?a=1&b=2) and\n```py\nif a < b & c:\n```\n1 < 2 & 3"
    html = to_html(text)
    assert html == (
        'Use <b>bold</b>, <code>a&lt;b</code>, <a href="https://e.com/?a=1&amp;b=2">docs</a> and\n'
        "<pre>if a &lt; b &amp; c:\n</pre>\n1 &lt; 2 &amp; 3"
    )
    assert parse_html(html).endswith("1 < 2 & 3")  # Telegram's parser accepts it


def test_a_long_answer_is_cut_at_paragraphs_then_lines_then_spaces():
    paragraphs = ["x" * 3000, "y" * 3000, "z" * 100]
    assert split_message("\n\n".join(paragraphs)) == ["x" * 3000, "y" * 3000 + "\n\n" + "z" * 100]
    one_paragraph = "\n".join(["line " + "w" * 1000] * 6)  # no blank line: cut at line breaks
    chunks = split_message(one_paragraph)
    assert [len(c) for c in chunks] == [4 * 1005 + 3, 2 * 1005 + 1] and all(
        c.startswith("line ") for c in chunks
    )
    assert split_message("") == [] and split_message("short") == ["short"]


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab <&>*`\n")), min_size=0, max_size=12_000))
def test_every_chunk_fits_telegram_and_nothing_is_lost(text: str):
    chunks = split_message(text)
    assert all(0 < len(c) <= LIMIT and len(to_html(c)) <= LIMIT for c in chunks)
    assert "".join(chunks).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")


# -- the ledger ------------------------------------------------------------------------------------


def test_the_ledger_claims_an_update_once_and_remembers_how_far_it_got(tmp_path: Path):
    ledger = Ledger(tmp_path / "telegram.sqlite")
    chat = ledger.chat(42, "loki")
    assert chat == ChatState("loki", "telegram-42")
    ledger.received(1, '{"update_id": 1}')
    assert ledger.unhandled() == ['{"update_id": 1}']
    entry = ledger.claim(1, 42, 7, "turn", "hello", chat)
    assert entry is not None and ledger.unhandled() == []
    assert ledger.claim(1, 42, 7, "turn", "hello", chat) is None  # a repeat
    ledger.step(1, "submitted", flow_run_id="run-1")
    again = Ledger(tmp_path / "telegram.sqlite")  # another process, after a restart
    [unfinished] = again.unfinished()
    assert (unfinished.update_id, unfinished.step, unfinished.flow_run_id) == (1, "submitted", "run-1")
    again.step(1, "replying")
    assert again.unfinished() == [] and [e.update_id for e in again.interrupted_replies()] == [1]


def test_a_chat_keeps_its_agent_and_gets_fresh_threads(tmp_path: Path):
    ledger = Ledger(tmp_path / "telegram.sqlite")
    ledger.set_agent(42, "kit")
    ledger.new_thread(42)
    ledger.new_thread(42)
    assert ledger.chat(42, "loki") == ChatState("kit", "telegram-42-2")
    assert ledger.chat(43, "loki") == ChatState("loki", "telegram-43")


def test_a_stranger_is_told_once_and_counted(tmp_path: Path):
    ledger = Ledger(tmp_path / "telegram.sqlite")
    assert [ledger.stranger(9) for _ in range(3)] == [True, False, False]
    assert ledger.strangers()[0][:2] == (9, 3)
    assert ledger.news_sent("e1", "2026-11-30T10:00:00+00:00") is True
    assert ledger.news_sent("e1", "2026-11-30T10:00:00+00:00") is False
    assert ledger.last_news() == "2026-11-30T10:00:00+00:00"


# -- doctor ----------------------------------------------------------------------------------------


def test_doctor_checks_the_token_with_get_me_and_the_allowlist(monkeypatch: pytest.MonkeyPatch):
    with FakeBotAPI() as api:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", api.token)
        table = {"base_url": api.base_url, "allowed_chats": [1], "owner_chat": 2}
        token, chats = check_telegram(parse_config({"channels": {"telegram": table}}))
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "999:WRONG")
        refused, empty = check_telegram(
            parse_config({"channels": {"telegram": {**table, "allowed_chats": []}}})
        )
    assert (token.status, token.detail) == ("ok", "the bot is @tenure_test_bot")
    assert (chats.status, chats.fix) == ("warn", "tenure telegram allow 2")
    assert (refused.status, refused.detail) == ("fail", "Telegram refused the token (401)")
    assert empty.status == "warn" and "tenure telegram allow CHAT_ID" in empty.fix
    assert check_telegram(parse_config({})) == []


# -- the service -----------------------------------------------------------------------------------


def test_with_telegram_configured_the_bot_is_a_service_after_the_worker(tmp_path: Path):
    config = parse_config({"channels": {"telegram": {"allowed_chats": [1]}}})
    assert [s.name for s in services(parse_config({}), tmp_path, platform="systemd")] == [
        "tenure-server",
        "tenure-worker",
    ]
    *_, bot = services(config, tmp_path, platform="systemd")
    unit = systemd_unit(bot)
    assert f"ExecStart={sys.executable} -m tenure.cli telegram run" in unit
    assert "After=tenure-worker.service" in unit and "Restart=on-failure" in unit
    assert f"StandardOutput=append:{tmp_path}/logs/tenure-telegram.log" in unit
    plist = plistlib.loads(launchd_plist(services(config, tmp_path, platform="launchd")[2]))
    assert plist["Label"] == "dev.tenure.telegram" and plist["KeepAlive"] is True
    assert plist["ProgramArguments"][-2:] == ["telegram", "run"]
    assert "TELEGRAM_BOT_TOKEN" not in plist["EnvironmentVariables"]  # the token is resolved at run time


# -- the commands ----------------------------------------------------------------------------------


def test_allow_adds_the_chat_to_the_config_and_keeps_its_comments(monkeypatch: pytest.MonkeyPatch, tmp_path):
    config = tmp_path / "tenure.toml"
    config.write_text("# my settings\n[retry]\nretries = 1  # keep it low\n")
    monkeypatch.setenv("TENURE_CONFIG", str(config))
    runner = CliRunner()
    first = runner.invoke(app, ["telegram", "allow", "123456789", "--owner"])
    second = runner.invoke(app, ["telegram", "allow", "-100200300"])
    again = runner.invoke(app, ["telegram", "allow", "123456789"])
    assert [r.exit_code for r in (first, second, again)] == [0, 0, 0], first.output + second.output
    assert "chat 123456789 may talk to the team and is the owner chat" in first.output
    telegram = load_config().channels.telegram
    assert telegram is not None
    assert (telegram.allowed_chats, telegram.owner_chat) == ([123456789, -100200300], 123456789)
    assert "# my settings" in config.read_text() and "retries = 1  # keep it low" in config.read_text()


def test_allow_refuses_to_write_an_invalid_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    config = tmp_path / "tenure.toml"
    config.write_text('[channels.telegram]\ntoken = "plain-text-token"\n')
    monkeypatch.setenv("TENURE_CONFIG", str(config))
    result = CliRunner().invoke(app, ["telegram", "allow", "5"])
    assert result.exit_code == 2 and "not changed" in result.output
    assert "channels.telegram.token" in result.output
    assert config.read_text() == '[channels.telegram]\ntoken = "plain-text-token"\n'


def test_run_without_a_telegram_table_says_what_to_add(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    result = CliRunner().invoke(app, ["telegram", "run", "--inline"])
    assert result.exit_code == 2
    assert "no [channels.telegram] table" in result.output and "token =" in result.output


def test_strangers_lists_who_wrote_without_being_allowed(tmp_path: Path):
    from tenure.config import Env

    ledger = Ledger.for_home(Env().home)
    ledger.stranger(31337)
    ledger.stranger(31337)
    ledger.close()
    result = CliRunner().invoke(app, ["telegram", "strangers"])
    assert result.exit_code == 0 and "31337" in result.output and "tenure telegram allow" in result.output
