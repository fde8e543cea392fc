"""Prove the fake Telegram Bot API is accepted by the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import telegram
from telegram import BotCommand, ReplyParameters, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, InvalidToken, RetryAfter
from telegram.ext import Application, CommandHandler, ContextTypes

from .telegram_server import FakeBotAPI, parse_html, parse_markdown_v2

ZERO = dtm.timedelta(0)


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as server:
        yield server


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[telegram.Bot]:
    async with telegram.Bot(api.token, base_url=api.base_url) as client:
        yield client


def _raw_post(api: FakeBotAPI, path: str, body: bytes, content_type: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{api.port}{path}", data=body, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def test_get_me_returns_the_bot_user(api: FakeBotAPI, bot: telegram.Bot) -> None:
    me = await bot.get_me()
    assert me.id == 123
    assert me.is_bot
    assert me.first_name == "tenure test"
    assert me.username == "tenure_test_bot"
    assert bot.username == "tenure_test_bot"  # cached by initialize()
    assert [r.method for r in api.requests] == ["getMe", "getMe"]


async def test_wrong_token_is_rejected(api: FakeBotAPI) -> None:
    with pytest.raises(InvalidToken, match="rejected"):
        async with telegram.Bot("999:WRONG", base_url=api.base_url):
            pass


def test_unknown_method_and_bad_paths_are_404(api: FakeBotAPI) -> None:
    status, body = _raw_post(api, f"/bot{api.token}/frobnicate", b"", "application/json")
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    status, body = _raw_post(api, "/nope", b"", "application/json")
    assert status == 404
    status, body = _raw_post(api, "/botWRONG/getMe", b"", "application/json")
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})


def test_json_and_urlencoded_bodies(api: FakeBotAPI) -> None:
    payload = json.dumps({"chat_id": 5, "text": "123"}).encode()
    status, body = _raw_post(api, f"/bot{api.token}/sendMessage", payload, "application/json")
    assert status == 200 and body["ok"] is True and body["result"]["text"] == "123"
    status, body = _raw_post(
        api, f"/bot{api.token}/sendMessage", b"chat_id=6&text=true", "application/x-www-form-urlencoded"
    )
    assert status == 200 and body["result"]["chat"] == {"id": 6, "type": "private", "first_name": "Tester"}
    assert [(m.chat_id, m.text) for m in api.sent] == [(5, "123"), (6, "true")]


def test_multipart_body_with_a_file_part(api: FakeBotAPI) -> None:
    response = httpx.post(
        f"{api.base_url}{api.token}/sendMessage",
        data={"chat_id": "7", "text": "héllo", "reply_parameters": json.dumps({"message_id": 3})},
        files={"attachment": ("a.txt", b"\x00bytes")},
    )
    assert response.status_code == 200, response.text
    assert [(m.chat_id, m.text, m.reply_to) for m in api.sent] == [(7, "héllo", 3)]
    assert api.requests[-1].params["attachment"] == b"\x00bytes"


async def test_get_updates_offset_confirms_and_limit(api: FakeBotAPI, bot: telegram.Bot) -> None:
    first = api.push_message(42, "hello", user_id=7)
    second = api.push_message(42, "/start now")
    third = api.push_update(
        {
            "update_id": 2000,
            "message": {"message_id": 99, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "raw"},
        }
    )
    assert (first, second, third) == (1000, 1001, 2000)
    assert api.push_message(1, "after") == 2001

    updates = await bot.get_updates(timeout=ZERO, limit=2)
    assert [u.update_id for u in updates] == [1000, 1001]
    message = updates[0].message
    assert message is not None and message.text == "hello" and message.chat.id == 42
    assert message.from_user is not None and message.from_user.id == 7
    command = updates[1].message
    assert command is not None and command.entities[0].type == "bot_command"
    assert command.entities[0].length == len("/start")

    # No offset: nothing was confirmed, the same updates come again.
    assert [u.update_id for u in await bot.get_updates(timeout=ZERO, limit=2)] == [1000, 1001]
    # offset confirms (forgets) everything below it.
    assert [u.update_id for u in await bot.get_updates(offset=1001, timeout=ZERO)] == [1001, 2000, 2001]
    assert [u.update_id for u in await bot.get_updates(offset=2002, timeout=ZERO)] == []
    assert api.pending_updates == []
    assert api.get_updates_offsets == [None, None, 1001, 2002]


async def test_long_poll_waits_and_wakes_on_push(api: FakeBotAPI, bot: telegram.Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=dtm.timedelta(seconds=0.3)) == ()
    assert time.monotonic() - started >= 0.25

    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.to_thread(api.wait_for_calls, "getUpdates", 2)
    await asyncio.sleep(0.05)
    assert not poll.done()
    pushed_at = time.monotonic()
    api.push_message(42, "wake up")
    updates = await asyncio.wait_for(poll, timeout=2)
    assert time.monotonic() - pushed_at < 1.0
    assert [u.update_id for u in updates] == [1000]


async def test_stop_ends_a_pending_long_poll_promptly(api: FakeBotAPI, bot: telegram.Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await asyncio.to_thread(api.wait_for_calls, "getUpdates")
    started = time.monotonic()
    await asyncio.to_thread(api.stop)
    assert time.monotonic() - started < 1.5
    with_result = await asyncio.wait_for(asyncio.gather(poll, return_exceptions=True), timeout=2)
    assert with_result[0] == () or isinstance(with_result[0], telegram.error.NetworkError)


async def test_redeliver_returns_a_confirmed_update_again(api: FakeBotAPI, bot: telegram.Bot) -> None:
    update_id = api.push_message(42, "once")
    assert [u.update_id for u in await bot.get_updates(timeout=ZERO)] == [update_id]
    assert await bot.get_updates(offset=update_id + 1, timeout=ZERO) == ()

    api.redeliver(update_id)
    again = await bot.get_updates(offset=update_id + 1, timeout=ZERO)
    assert [u.update_id for u in again] == [update_id]
    assert again[0].message is not None and again[0].message.text == "once"
    # Delivered once more; now the offset confirms it for good.
    assert await bot.get_updates(offset=update_id + 1, timeout=ZERO) == ()


async def test_allowed_updates_filters_update_types(api: FakeBotAPI, bot: telegram.Bot) -> None:
    api.push_update(
        {
            "callback_query": {
                "id": "1",
                "from": {"id": 1, "is_bot": False, "first_name": "x"},
                "chat_instance": "c",
            }
        }
    )
    api.push_message(1, "hi")
    updates = await bot.get_updates(timeout=ZERO, allowed_updates=[Update.MESSAGE])
    assert [u.update_id for u in updates] == [1001]


async def test_send_message_success_is_recorded(api: FakeBotAPI, bot: telegram.Bot) -> None:
    message = await bot.send_message(
        42, "hello <b>world</b> &amp; co", parse_mode=ParseMode.HTML, reply_parameters=ReplyParameters(7)
    )
    assert message.text == "hello world & co"
    assert message.chat.id == 42
    assert message.from_user is not None and message.from_user.is_bot

    plain = await bot.send_message(43, "plain < text & stuff")
    sent = api.wait_for_sent(2, timeout=1)
    assert [(m.chat_id, m.text, m.parse_mode, m.reply_to) for m in sent] == [
        (42, "hello <b>world</b> &amp; co", "HTML", 7),
        (43, "plain < text & stuff", None, None),
    ]
    assert sent[0].plain_text == "hello world & co"
    assert sent[0].message_id == message.message_id and sent[1].message_id == plain.message_id
    assert sent[0].message_id < sent[1].message_id
    assert api.sent_to(43) == [sent[1]]


async def test_valid_nested_html_is_accepted(api: FakeBotAPI, bot: telegram.Bot) -> None:
    text = (
        '<b>bold <i>both <u>all</u></i></b> <a href="https://x.y/?a=1&amp;b=2">link</a> '
        '<span class="tg-spoiler">s</span> <tg-spoiler>t</tg-spoiler> <code>a &lt; b</code> '
        '<pre><code class="language-python">x = 1</code></pre> <blockquote expandable>q</blockquote> '
        "&#128512; &#x1F600; &quot;q&quot; 1 &gt; 0"
    )
    message = await bot.send_message(1, text, parse_mode=ParseMode.HTML)
    assert message.text is not None and message.text.endswith('😀 😀 "q" 1 > 0')
    assert api.sent[0].text == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("<b>unclosed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("fish & chips", "Unsupported HTML entity at byte offset 5"),
        ("&nbsp;", "Unsupported HTML entity at byte offset 0"),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b", "Unclosed start tag at byte offset 0"),
    ],
)
async def test_bad_html_is_rejected(api: FakeBotAPI, bot: telegram.Bot, text: str, reason: str) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities") as info:
        await bot.send_message(1, text, parse_mode=ParseMode.HTML)
    # PTB strips "Bad Request: " and str.capitalize()s the rest, so compare case-insensitively.
    assert reason.lower() in info.value.message.lower()
    assert api.sent == []


async def test_empty_and_too_long_messages_are_rejected(api: FakeBotAPI, bot: telegram.Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(1, "")
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(1, "<b> </b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(1, "x" * 4097)
    # The limit applies to the text after entity parsing: markup does not count, entities count as one.
    await bot.send_message(1, "<b>" + "&amp;" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(1, "<b>" + "&amp;" * 4097 + "</b>", parse_mode=ParseMode.HTML)
    await bot.send_message(1, "é" * 4096)
    assert [len(m.plain_text) for m in api.sent] == [4096, 4096]


async def test_markdown_v2_validation(api: FakeBotAPI, bot: telegram.Bot) -> None:
    ok = await bot.send_message(
        1, r"*bold* _it_ `co.de` [link](https://x\.y) 1\.5\!", parse_mode=ParseMode.MARKDOWN_V2
    )
    assert ok.text == "bold it co.de link 1.5!"
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities: character '\.' is reserved"):
        await bot.send_message(1, "end.", parse_mode=ParseMode.MARKDOWN_V2)
    with pytest.raises(BadRequest, match=r"(?i)can't find end of bold entity"):
        await bot.send_message(1, "*open", parse_mode=ParseMode.MARKDOWN_V2)


def test_parsers_directly() -> None:
    assert parse_html("<b>a</b> &lt;&#65;&#x42;") == "a <AB"
    assert parse_markdown_v2(r"__u__ ~s~ ||sp|| \\") == "u s sp \\"
    with pytest.raises(ValueError, match="reserved"):
        parse_markdown_v2("a-b")


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # int retry_after
async def test_scripted_429_raises_retry_after_then_recovers(api: FakeBotAPI, bot: telegram.Bot) -> None:
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    with pytest.raises(RetryAfter) as info:
        await bot.send_message(1, "hi")
    retry_after = info.value.retry_after
    seconds = retry_after.total_seconds() if isinstance(retry_after, dtm.timedelta) else retry_after
    assert seconds == 1
    await bot.send_message(1, "hi")
    assert [m.text for m in api.sent] == ["hi"]
    assert [(f.method, f.error_code) for f in api.failed] == [("sendMessage", 429)]


async def test_fail_next_times_and_scripted_errors_precede_validation(
    api: FakeBotAPI, bot: telegram.Bot
) -> None:
    api.fail_next("sendMessage", 400, "Bad Request: chat not found", times=2)
    for _ in range(2):
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.send_message(1, "")  # would be "text is empty" without the script
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(1, "")
    assert len(api.failed) == 2


async def test_commands_actions_and_webhook(api: FakeBotAPI, bot: telegram.Bot) -> None:
    await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("help", "Show help")])
    assert api.commands == [
        {"command": "start", "description": "Start"},
        {"command": "help", "description": "Show help"},
    ]
    assert [(c.command, c.description) for c in await bot.get_my_commands()] == [
        ("start", "Start"),
        ("help", "Show help"),
    ]
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Bad Command", "x")])

    assert await bot.send_chat_action(42, ChatAction.TYPING)
    assert [(a.chat_id, a.action) for a in api.actions] == [(42, "typing")]

    api.push_message(1, "stale")
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert api.webhook_deletions == 1
    assert await bot.get_updates(timeout=ZERO) == ()


async def test_application_polling_round_trip(api: FakeBotAPI) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, f"hi {context.args}")

    app = Application.builder().token(api.token).base_url(api.base_url).build()
    app.add_handler(CommandHandler("start", start))
    api.push_message(42, "/start a b")
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=1))
        await app.start()
        sent = await asyncio.to_thread(api.wait_for_sent, 1, 5.0)
        await app.updater.stop()
        await app.stop()
    assert [(m.chat_id, m.text) for m in sent] == [(42, "hi ['a', 'b']")]
    assert api.webhook_deletions == 1
    assert api.pending_updates == []  # the final getUpdates confirmed it
