"""Scripted loopback fake of (just enough of) Telegram's Bot HTTP API.

:class:`FakeBotAPI` serves ``POST|GET /bot<token>/<method>`` on 127.0.0.1 (random port) and answers in
Telegram's envelope (``{"ok": true, "result": ...}`` / ``{"ok": false, "error_code": ..., "description":
...}``). Implemented methods: ``getMe``, ``getUpdates`` (long polling with offset confirmation),
``deleteWebhook``, ``setMyCommands`` / ``getMyCommands`` / ``deleteMyCommands``, ``sendChatAction`` and
``sendMessage`` (validated like Telegram: empty / too long text, HTML and MarkdownV2 entity parsing).
Anything else is a 404, as is a malformed path; a wrong token is a 401.

Request bodies may be ``application/x-www-form-urlencoded``, ``multipart/form-data`` (how
python-telegram-bot sends them: strings raw, every other value JSON-encoded) or ``application/json``.

Incoming traffic is scripted with :meth:`FakeBotAPI.push_message` / :meth:`FakeBotAPI.push_update`
(plus :meth:`FakeBotAPI.redeliver`), failures with :meth:`FakeBotAPI.fail_next`; what the bot did is
observable through ``sent``, ``actions``, ``commands``, ``requests`` and :meth:`FakeBotAPI.wait_for_sent`.

Standard library only, so it can be used with the real python-telegram-bot client::

    with FakeBotAPI() as api:
        api.push_message(42, "/start")
        app = Application.builder().token(api.token).base_url(api.base_url).build()
        ...
        api.wait_for_sent(1)
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

__all__ = [
    "MAX_MESSAGE_LENGTH",
    "ApiCall",
    "ChatActionCall",
    "FailedCall",
    "FakeBotAPI",
    "SentMessage",
    "parse_html",
    "parse_markdown_v2",
]

MAX_MESSAGE_LENGTH = 4096
DEFAULT_TOKEN = "123:TEST"

_POLL = 0.02  # granularity of stop()'s wait for handler threads to finish
_FIRST_UPDATE_ID = 1000
_BOT_FIRST_NAME = "tenure test"
_BOT_USERNAME = "tenure_test_bot"

# Form values PTB sends as raw strings that must not be JSON-decoded even when they look like JSON
# ("123", "true", "null", ...). Every other form value is JSON-decoded when it parses as a non-string.
_RAW_STRING_FIELDS = frozenset(
    {
        "action",
        "business_connection_id",
        "callback_query_id",
        "caption",
        "custom_title",
        "description",
        "emoji",
        "explanation",
        "inline_query_id",
        "language_code",
        "message_effect_id",
        "name",
        "parse_mode",
        "query",
        "question",
        "secret_token",
        "short_description",
        "text",
        "title",
        "url",
    }
)

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

# Update types Telegram sends when allowed_updates is empty / never set.
_NOT_DEFAULT_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)

_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "blockquote",
        "code",
        "del",
        "em",
        "i",
        "ins",
        "pre",
        "s",
        "span",
        "strike",
        "strong",
        "tg-emoji",
        "tg-spoiler",
        "u",
    }
)
_HTML_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,6}));")
_HTML_NAME_RE = re.compile(r"[a-zA-Z0-9-]*")
_HTML_ATTR_NAME_RE = re.compile(r"[a-zA-Z0-9_-]*")
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")

_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_ENTITY_NAMES = {
    "*": "Bold",
    "_": "Italic",
    "__": "Underline",
    "~": "Strikethrough",
    "||": "Spoiler",
    "`": "Code",
}


@dataclass(frozen=True)
class SentMessage:
    """A message the bot sent successfully with ``sendMessage``."""

    chat_id: int
    text: str
    """The text exactly as sent (markup included)."""
    parse_mode: str | None
    message_id: int
    at: float
    """``time.monotonic()`` when the server accepted it."""
    reply_to: int | None = None
    """``reply_parameters.message_id`` (or legacy ``reply_to_message_id``), if any."""
    plain_text: str = ""
    """The text as Telegram displays it: markup removed, entities decoded."""


class ApiCall(NamedTuple):
    """One request received for a known-looking ``/bot<token>/<method>`` path."""

    method: str
    params: dict[str, Any]
    at: float


class FailedCall(NamedTuple):
    """A call answered with an error scripted by :meth:`FakeBotAPI.fail_next`."""

    method: str
    params: dict[str, Any]
    at: float
    error_code: int
    description: str


class ChatActionCall(NamedTuple):
    """A successful ``sendChatAction``."""

    chat_id: int
    action: str
    at: float


class _ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


@dataclass
class _ScriptedFailure:
    status: int
    description: str
    retry_after: int | None
    remaining: int


@dataclass
class _Pending:
    update: dict[str, Any]
    forced: bool = False
    """Redelivered: survives offset confirmation until delivered once more."""


class _ParseError(Exception):
    pass


# -- entity parsing ---------------------------------------------------------------------------------------


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_code_point(number: int) -> str | None:
    if number <= 0 or number > 0x10FFFF or 0xD800 <= number <= 0xDFFF:
        return None
    return chr(number)


def parse_html(text: str) -> str:
    """Parse Telegram-flavoured HTML like the Bot API does; return the plain text.

    Raises ``ValueError`` with Telegram's reason (the part after ``can't parse entities:``) on bad markup.
    Stricter than Telegram in one respect: a bare ``&`` that does not start a supported entity is an error.
    """
    try:
        return _parse_html(text)
    except _ParseError as exc:
        raise ValueError(str(exc)) from None


def _parse_html(text: str) -> str:
    out: list[str] = []
    stack: list[tuple[str, int]] = []  # (tag name, byte offset of its "<")
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "&":
            entity = _HTML_ENTITY_RE.match(text, i)
            decoded = _decode_html_entity(entity) if entity else None
            if entity is None or decoded is None:
                raise _ParseError(f"Unsupported HTML entity at byte offset {_byte_offset(text, i)}")
            out.append(decoded)
            i = entity.end()
        elif c == "<" and text.startswith("</", i):
            i = _parse_html_end_tag(text, i, stack)
        elif c == "<":
            i = _parse_html_start_tag(text, i, stack)
        else:
            out.append(c)
            i += 1
    if stack:
        raise _ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out)


def _decode_html_entity(match: re.Match[str]) -> str | None:
    named, decimal, hexadecimal = match.groups()
    if named:
        return _HTML_NAMED_ENTITIES[named]
    return _decode_code_point(int(decimal) if decimal else int(hexadecimal, 16))


def _parse_html_end_tag(text: str, start: int, stack: list[tuple[str, int]]) -> int:
    name_match = _HTML_NAME_RE.match(text, start + 2)
    assert name_match is not None  # the pattern matches the empty string
    name = name_match.group().lower()
    i = name_match.end()
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text) or text[i] != ">":
        raise _ParseError(f"Unclosed end tag at byte offset {_byte_offset(text, start)}")
    if not stack:
        raise _ParseError(f"Unexpected end tag at byte offset {_byte_offset(text, start)}")
    expected = stack[-1][0]
    if name != expected:
        raise _ParseError(
            f'Unmatched end tag at byte offset {_byte_offset(text, start)}, expected "</{expected}>", '
            f'found "</{name}>"'
        )
    stack.pop()
    return i + 1


def _parse_html_start_tag(text: str, start: int, stack: list[tuple[str, int]]) -> int:
    offset = _byte_offset(text, start)
    name_match = _HTML_NAME_RE.match(text, start + 1)
    assert name_match is not None
    name = name_match.group().lower()
    if name not in _HTML_TAGS:
        raise _ParseError(f'Unsupported start tag "{name}" at byte offset {offset}')
    attributes: dict[str, str] = {}
    i, n = name_match.end(), len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            raise _ParseError(f"Unclosed start tag at byte offset {offset}")
        if text[i] == ">":
            i += 1
            break
        attr_match = _HTML_ATTR_NAME_RE.match(text, i)
        assert attr_match is not None
        attr = attr_match.group().lower()
        if not attr:
            raise _ParseError(f'Empty attribute name in the tag "{name}" at byte offset {offset}')
        i = attr_match.end()
        while i < n and text[i].isspace():
            i += 1
        value = ""
        if i < n and text[i] == "=":
            i += 1
            while i < n and text[i].isspace():
                i += 1
            if i < n and text[i] in "\"'":
                quote = text[i]
                end = text.find(quote, i + 1)
                if end < 0:
                    raise _ParseError(f"Unclosed start tag at byte offset {offset}")
                raw_value, i = text[i + 1 : end], end + 1
            else:
                begin = i
                while i < n and not text[i].isspace() and text[i] != ">":
                    i += 1
                raw_value = text[begin:i]
            value = _HTML_ENTITY_RE.sub(lambda m: _decode_html_entity(m) or m.group(), raw_value)
        attributes[attr] = value
    if name == "span" and attributes.get("class") != "tg-spoiler":
        raise _ParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
    if name == "tg-emoji" and not attributes.get("emoji-id", "").isdigit():
        raise _ParseError("Invalid custom emoji identifier specified")
    stack.append((name, offset))
    return i


def parse_markdown_v2(text: str) -> str:
    """Parse (a simplified) MarkdownV2 like the Bot API does; return the plain text.

    Balanced ``*``, ``_``, ``__``, ``~``, ``||`` and backtick pairs, ``[text](url)`` links and ``>`` at
    the start of a line are accepted; any other unescaped reserved character is an error (``ValueError``
    with Telegram's reason).
    """
    try:
        return _parse_markdown_v2(text)
    except _ParseError as exc:
        raise ValueError(str(exc)) from None


def _parse_markdown_v2(text: str) -> str:
    out: list[str] = []
    open_markers: dict[str, int] = {}  # marker -> byte offset where it was opened
    link_start: int | None = None
    code_start: int | None = None
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and 0 < ord(text[i + 1]) < 127:
            out.append(text[i + 1])
            i += 2
            continue
        if code_start is not None:  # inside code only ` and \ are special
            if c == "`":
                code_start = None
            else:
                out.append(c)
            i += 1
            continue
        if c == "`":
            code_start = _byte_offset(text, i)
            i += 1
            continue
        marker = text[i : i + 2] if text.startswith(("__", "||"), i) else c
        if marker in ("*", "_", "__", "~", "||"):
            if marker in open_markers:
                del open_markers[marker]
            else:
                open_markers[marker] = _byte_offset(text, i)
            i += len(marker)
            continue
        if c == "[" and link_start is None:
            link_start = _byte_offset(text, i)
            i += 1
            continue
        if c == "]" and link_start is not None:
            link_start = None
            i += 1
            if i < n and text[i] == "(":
                i = _skip_markdown_url(text, i)
            continue
        if c == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1  # blockquote marker
            continue
        if c in _MDV2_RESERVED:
            raise _ParseError(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
        out.append(c)
        i += 1
    if code_start is not None:
        raise _ParseError(f"Can't find end of Code entity at byte offset {code_start}")
    if link_start is not None:
        raise _ParseError(f"Can't find end of TextUrl entity at byte offset {link_start}")
    if open_markers:
        marker, offset = min(open_markers.items(), key=lambda item: item[1])
        raise _ParseError(f"Can't find end of {_MDV2_ENTITY_NAMES[marker]} entity at byte offset {offset}")
    return "".join(out)


def _skip_markdown_url(text: str, start: int) -> int:
    """``text[start]`` is the ``(`` after a link text; return the index after the closing ``)``."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == ")":
            return i + 1
        i += 1
    raise _ParseError(f"Can't find end of a URL at byte offset {_byte_offset(text, start)}")


# -- request parameters -----------------------------------------------------------------------------------


def _decode_form_value(name: str, value: str) -> Any:
    if name in _RAW_STRING_FIELDS:
        return value
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return value if isinstance(decoded, str) else decoded


def _decode_form(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    return {
        name: _decode_form_value(name, value) if isinstance(value, str) else value for name, value in pairs
    }


def _parse_multipart(body: bytes, boundary: bytes) -> list[tuple[str, Any]]:
    """Minimal multipart/form-data parser: text fields as ``str``, file parts as ``bytes``."""
    fields: list[tuple[str, Any]] = []
    for part in body.split(b"--" + boundary):
        if part.startswith(b"\r\n"):
            part = part[2:]
        if not part or part.startswith(b"--"):
            continue
        head, sep, content = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        if content.endswith(b"\r\n"):
            content = content[:-2]
        headers = head.decode("utf-8", "replace")
        name = re.search(r'\bname="([^"]*)"', headers)
        if name is None:
            continue
        if re.search(r'\bfilename="', headers):
            fields.append((name.group(1), content))
        else:
            fields.append((name.group(1), content.decode("utf-8", "replace")))
    return fields


def _int_param(params: dict[str, Any], name: str, *, error: str | None = None) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        raise _ApiError(400, error or f"Bad Request: invalid {name} specified")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value.strip())
    raise _ApiError(400, error or f"Bad Request: invalid {name} specified")


def _float_param(params: dict[str, Any], name: str) -> float | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return float(value.strip())
    raise _ApiError(400, f"Bad Request: invalid {name} specified")


def _json_param(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise _ApiError(400, f"Bad Request: can't parse {name} JSON object") from None
    return value


def _chat_id(params: dict[str, Any]) -> int:
    if params.get("chat_id") in (None, ""):
        raise _ApiError(400, "Bad Request: chat_id is empty")
    chat_id = _int_param(params, "chat_id", error="Bad Request: chat not found")
    assert chat_id is not None
    return chat_id


def _chat(chat_id: int) -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "Tester"}
    kind = "supergroup" if str(chat_id).startswith("-100") else "group"
    return {"id": chat_id, "type": kind, "title": "Test group"}


def _update_type(update: dict[str, Any]) -> str | None:
    return next((key for key in update if key != "update_id"), None)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# -- HTTP plumbing ----------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """Request handler; all state lives on the owning :class:`FakeBotAPI`."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out separately; Nagle would hold the body ~40 ms
    server_version = "FakeBotAPI/1.0"
    sys_version = ""
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.fake._register_connection(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._unregister_connection(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request stderr logging."""

    def _read_body(self) -> bytes:
        """Read the whole request body (Content-Length or chunked) so keep-alive stays in sync."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537)
                if not size_line:
                    break
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)  # CRLF after each chunk
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send_json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            # The client went away (e.g. it gave up on a long poll).
            self.close_connection = True

    def _params(self, raw: bytes, query: str) -> dict[str, Any]:
        pairs: list[tuple[str, Any]] = parse_qsl(query, keep_blank_values=True)
        content_type = self.headers.get("Content-Type", "")
        mime = content_type.split(";", 1)[0].strip().lower()
        if raw and mime == "application/json":
            try:
                parsed = json.loads(raw)
            except ValueError:
                raise _ApiError(400, "Bad Request: can't parse JSON request body") from None
            if not isinstance(parsed, dict):
                raise _ApiError(400, "Bad Request: request body must be a JSON object")
            return {**_decode_form(pairs), **parsed}
        if raw and mime == "multipart/form-data":
            boundary = re.search(r'boundary="?([^";]+)"?', content_type)
            if boundary is None:
                raise _ApiError(400, "Bad Request: multipart boundary is missing")
            pairs += _parse_multipart(raw, boundary.group(1).encode("latin-1"))
        elif raw:
            pairs += parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        return _decode_form(pairs)

    def _handle(self) -> None:
        raw = self._read_body()
        path, _, query = self.path.partition("?")
        match = re.fullmatch(r"/bot([^/]*)/([A-Za-z0-9_]+)/?", path)
        if match is None:
            self._send_json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        token, method = match.groups()
        fake = self.server.fake
        try:
            params = self._params(raw, query)
        except _ApiError as exc:
            params = {}
            fake._record(method, params)
            self._send_json(exc.status, fake._error_payload(exc))
            return
        status, payload = fake._dispatch(token, method, params)
        self._send_json(status, payload)

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fake: FakeBotAPI) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Disconnects are expected (client timeouts, stop()); anything else is a bug worth showing.
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) or self.fake._stopping.is_set():
            return
        super().handle_error(request, client_address)


# -- the fake ---------------------------------------------------------------------------------------------


class FakeBotAPI:
    """Scripted fake of Telegram's Bot API on 127.0.0.1 (random port).

    ``base_url`` is ``"http://127.0.0.1:PORT/bot"``; python-telegram-bot appends ``token + "/" + method``.
    All observation properties return snapshots and are safe to read from any thread.
    """

    def __init__(self, token: str = DEFAULT_TOKEN) -> None:
        self.token = token
        prefix = token.split(":", 1)[0]
        self.bot_id: int = int(prefix) if prefix.isdigit() else 123
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        # scripted state
        self._all_updates: dict[int, dict[str, Any]] = {}
        self._pending: dict[int, _Pending] = {}
        self._next_update_id = _FIRST_UPDATE_ID
        self._next_message_id = 1
        self._failures: dict[str, deque[_ScriptedFailure]] = {}
        self._allowed_updates: frozenset[str] | None = None
        self._poll_generation = 0
        # observations
        self._sent: list[SentMessage] = []
        self._actions: list[ChatActionCall] = []
        self._commands: list[dict[str, str]] = []
        self._requests: list[ApiCall] = []
        self._failed: list[FailedCall] = []
        self._offsets: list[int | None] = []
        self._webhook_deletions = 0
        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "deletewebhook": self._delete_webhook,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "sendchataction": self._send_chat_action,
            "sendmessage": self._send_message,
        }

    # -- lifecycle ----------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (only while started)."""
        if self._httpd is None:
            raise RuntimeError("FakeBotAPI is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/bot``: pass as ``base_url`` to ``telegram.Bot`` / the builder."""
        return f"http://127.0.0.1:{self.port}/bot"

    def start(self) -> FakeBotAPI:
        """Bind to 127.0.0.1 on a free port and serve in a daemon thread. Returns ``self``."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer(self)
        self._port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeBotAPI:{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving promptly: end pending long polls, close open keep-alive connections."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        with self._cond:
            self._stopping.set()
            self._cond.notify_all()
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=2)
        with self._cond:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            with self._cond:
                if not self._connections:
                    break
            time.sleep(_POLL)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeBotAPI:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- scripting ----------------------------------------------------------------------------------

    def push_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        update_id: int | None = None,
        first_name: str = "Tester",
    ) -> int:
        """Queue a private-chat ``message`` update from user ``user_id`` (default: ``chat_id``).

        A leading ``/command`` gets a ``bot_command`` entity (so PTB's ``CommandHandler`` sees it).
        Returns the update_id (auto-incremented from 1000 unless given).
        """
        sender = chat_id if user_id is None else user_id
        with self._cond:
            message_id = self._new_message_id()
            message: dict[str, Any] = {
                "message_id": message_id,
                "from": {"id": sender, "is_bot": False, "first_name": first_name, "language_code": "en"},
                "chat": {"id": chat_id, "type": "private", "first_name": first_name},
                "date": int(time.time()),
                "text": text,
            }
            if text.startswith("/"):
                command = text.split(maxsplit=1)[0] if text.strip() else text
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]
            return self._enqueue({"update_id": update_id, "message": message})

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue a raw update (a copy of it); an ``update_id`` is assigned if missing. Returns it."""
        with self._cond:
            return self._enqueue(copy.deepcopy(update))

    def redeliver(self, update_id: int) -> None:
        """Put an already delivered (even confirmed) update back so the next ``getUpdates`` returns it."""
        with self._cond:
            if update_id not in self._all_updates:
                raise KeyError(f"unknown update_id {update_id}")
            self._pending[update_id] = _Pending(copy.deepcopy(self._all_updates[update_id]), forced=True)
            self._cond.notify_all()

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        *,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with ``status`` / ``description``.

        Scripted failures apply after the token check and before any validation, in FIFO order.
        ``retry_after`` adds ``"parameters": {"retry_after": ...}`` (PTB raises ``RetryAfter``).
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._cond:
            failure = _ScriptedFailure(status, description, retry_after, times)
            self._failures.setdefault(method.lower(), deque()).append(failure)

    # -- observation --------------------------------------------------------------------------------

    @property
    def sent(self) -> list[SentMessage]:
        """Messages accepted by ``sendMessage``, in order."""
        with self._cond:
            return list(self._sent)

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        """Messages sent to ``chat_id``, in order."""
        with self._cond:
            return [m for m in self._sent if m.chat_id == chat_id]

    @property
    def actions(self) -> list[ChatActionCall]:
        """Successful ``sendChatAction`` calls as ``(chat_id, action, monotonic time)``."""
        with self._cond:
            return list(self._actions)

    @property
    def commands(self) -> list[dict[str, str]]:
        """The command list from the last ``setMyCommands`` (``[]`` before / after ``deleteMyCommands``)."""
        with self._cond:
            return [dict(c) for c in self._commands]

    @property
    def requests(self) -> list[ApiCall]:
        """Every ``/bot<token>/<method>`` request as ``(method, params, monotonic time)``."""
        with self._cond:
            return list(self._requests)

    def calls(self, method: str) -> list[ApiCall]:
        """Recorded requests of one method (case-insensitive)."""
        with self._cond:
            return [r for r in self._requests if r.method.lower() == method.lower()]

    @property
    def failed(self) -> list[FailedCall]:
        """Calls answered with an error scripted by :meth:`fail_next`."""
        with self._cond:
            return list(self._failed)

    @property
    def get_updates_offsets(self) -> list[int | None]:
        """The ``offset`` of each ``getUpdates`` call (None when absent)."""
        with self._cond:
            return list(self._offsets)

    @property
    def webhook_deletions(self) -> int:
        """How many times ``deleteWebhook`` was called."""
        with self._cond:
            return self._webhook_deletions

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by a ``getUpdates`` offset, by update_id."""
        with self._cond:
            return [copy.deepcopy(self._pending[k].update) for k in sorted(self._pending)]

    def wait_for_sent(self, n: int, timeout: float = 10.0) -> list[SentMessage]:
        """Block until at least ``n`` messages were sent; return them all. AssertionError on timeout."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._sent) >= n, timeout):
                sent = [(m.chat_id, m.text) for m in self._sent]
                raise AssertionError(f"expected >= {n} sent message(s) within {timeout}s, got {sent!r}")
            return list(self._sent)

    def wait_for_calls(self, method: str, n: int = 1, timeout: float = 10.0) -> list[ApiCall]:
        """Block until ``method`` was requested at least ``n`` times; return those calls."""
        name = method.lower()

        def matching() -> list[ApiCall]:
            return [r for r in self._requests if r.method.lower() == name]

        with self._cond:
            if not self._cond.wait_for(lambda: len(matching()) >= n, timeout):
                got = [r.method for r in self._requests]
                raise AssertionError(f"expected >= {n} {method} call(s) within {timeout}s, requests: {got!r}")
            return matching()

    # -- internals used by the handler --------------------------------------------------------------

    def _register_connection(self, conn: socket.socket) -> None:
        with self._cond:
            self._connections.add(conn)

    def _unregister_connection(self, conn: socket.socket) -> None:
        with self._cond:
            self._connections.discard(conn)

    def _record(self, method: str, params: dict[str, Any]) -> float:
        now = time.monotonic()
        with self._cond:
            self._requests.append(ApiCall(method, params, now))
            self._cond.notify_all()
        return now

    @staticmethod
    def _error_payload(exc: _ApiError) -> dict[str, Any]:
        payload: dict[str, Any] = {"ok": False, "error_code": exc.status, "description": exc.description}
        if exc.status == 429:
            payload["parameters"] = {"retry_after": exc.retry_after if exc.retry_after is not None else 1}
        return payload

    def _dispatch(self, token: str, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        now = self._record(method, params)
        try:
            if token != self.token:
                raise _ApiError(401, "Unauthorized")
            handler = self._methods.get(method.lower())
            if handler is None:
                raise _ApiError(404, "Not Found")
            self._maybe_fail(method, params, now)
            return 200, {"ok": True, "result": handler(params)}
        except _ApiError as exc:
            return exc.status, self._error_payload(exc)

    def _maybe_fail(self, method: str, params: dict[str, Any], now: float) -> None:
        with self._cond:
            queue = self._failures.get(method.lower())
            if not queue:
                return
            failure = queue[0]
            failure.remaining -= 1
            if failure.remaining <= 0:
                queue.popleft()
            self._failed.append(FailedCall(method, params, now, failure.status, failure.description))
        raise _ApiError(failure.status, failure.description, failure.retry_after)

    def _new_message_id(self) -> int:
        message_id = self._next_message_id
        self._next_message_id += 1
        return message_id

    def _enqueue(self, update: dict[str, Any]) -> int:
        """Add ``update`` (lock held); assign/validate its update_id; wake long polls."""
        update_id = update.get("update_id")
        if update_id is None:
            update_id = self._next_update_id
            update["update_id"] = update_id
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            raise TypeError(f"update_id must be an int, got {update_id!r}")
        self._next_update_id = max(self._next_update_id, update_id + 1)
        self._all_updates[update_id] = update
        self._pending[update_id] = _Pending(copy.deepcopy(update))
        self._cond.notify_all()
        return update_id

    # -- Bot API methods (called from handler threads) ----------------------------------------------

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": _BOT_FIRST_NAME,
            "username": _BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _get_me(self, params: dict[str, Any]) -> Any:
        return self._bot_user()

    def _delete_webhook(self, params: dict[str, Any]) -> Any:
        with self._cond:
            self._webhook_deletions += 1
            if params.get("drop_pending_updates") in (True, "true", "True", 1):
                self._pending.clear()
        return True

    def _set_my_commands(self, params: dict[str, Any]) -> Any:
        commands = _json_param(params, "commands")
        if not isinstance(commands, list):
            raise _ApiError(400, 'Bad Request: field "commands" must be an Array')
        parsed: list[dict[str, str]] = []
        for item in commands:
            if not isinstance(item, dict):
                raise _ApiError(400, "Bad Request: can't parse BotCommand: expected an Object")
            command, description = item.get("command"), item.get("description")
            if not isinstance(command, str) or not _COMMAND_RE.fullmatch(command.lstrip("/")):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise _ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
            parsed.append({"command": command.lstrip("/"), "description": description})
        with self._cond:
            self._commands = parsed
        return True

    def _get_my_commands(self, params: dict[str, Any]) -> Any:
        return self.commands

    def _delete_my_commands(self, params: dict[str, Any]) -> Any:
        with self._cond:
            self._commands = []
        return True

    def _send_chat_action(self, params: dict[str, Any]) -> Any:
        chat_id = _chat_id(params)
        action = params.get("action")
        if action in (None, ""):
            raise _ApiError(400, "Bad Request: action is empty")
        if action not in _CHAT_ACTIONS:
            raise _ApiError(400, "Bad Request: wrong parameter action in request")
        with self._cond:
            self._actions.append(ChatActionCall(chat_id, str(action), time.monotonic()))
            self._cond.notify_all()
        return True

    def _send_message(self, params: dict[str, Any]) -> Any:
        chat_id = _chat_id(params)
        raw_text = params.get("text")
        text = "" if raw_text is None else str(raw_text)
        parse_mode_value = params.get("parse_mode")
        parse_mode = str(parse_mode_value) if parse_mode_value not in (None, "") else None
        plain = self._plain_text(text, parse_mode)
        if not plain.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(plain) > MAX_MESSAGE_LENGTH:
            raise _ApiError(400, "Bad Request: message is too long")
        reply_to = _int_param(params, "reply_to_message_id")
        reply_parameters = _json_param(params, "reply_parameters")
        if isinstance(reply_parameters, dict):
            reply_to = _int_param(reply_parameters, "message_id")
        now = time.monotonic()
        with self._cond:
            message_id = self._new_message_id()
            self._sent.append(SentMessage(chat_id, text, parse_mode, message_id, now, reply_to, plain))
            self._cond.notify_all()
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": self._bot_user(),
            "chat": _chat(chat_id),
            "date": int(time.time()),
            "text": plain,
        }
        if reply_to is not None:
            message["reply_to_message"] = {
                "message_id": reply_to,
                "chat": _chat(chat_id),
                "date": int(time.time()),
            }
        return message

    @staticmethod
    def _plain_text(text: str, parse_mode: str | None) -> str:
        if parse_mode is None:
            return text
        mode = parse_mode.lower()
        parser = {"html": _parse_html, "markdownv2": _parse_markdown_v2}.get(mode)
        if parser is None:
            if mode == "markdown":
                return text
            raise _ApiError(400, "Bad Request: unsupported parse_mode")
        try:
            return parser(text)
        except _ParseError as exc:
            raise _ApiError(400, f"Bad Request: can't parse entities: {exc}") from None

    def _get_updates(self, params: dict[str, Any]) -> Any:
        offset = _int_param(params, "offset")
        limit = max(1, min(100, _int_param(params, "limit") or 100))
        timeout = max(0.0, _float_param(params, "timeout") or 0.0)
        allowed = _json_param(params, "allowed_updates")
        deadline = time.monotonic() + timeout
        with self._cond:
            self._offsets.append(offset)
            if isinstance(allowed, list):
                self._allowed_updates = frozenset(str(a) for a in allowed) or None
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.notify_all()  # an older long poll gets terminated with 409 Conflict
            self._confirm(offset)
            while True:
                if self._stopping.is_set():
                    return []
                if generation != self._poll_generation:
                    raise _ApiError(409, _CONFLICT)
                batch = self._take(limit)
                remaining = deadline - time.monotonic()
                if batch or remaining <= 0:
                    return batch
                self._cond.wait(remaining)

    def _confirm(self, offset: int | None) -> None:
        """Forget updates confirmed by ``offset`` (lock held), as Telegram does."""
        if offset is None:
            return
        ids = sorted(self._pending)
        if offset < 0:
            confirmed = ids[:offset] if -offset < len(ids) else []
        else:
            confirmed = [i for i in ids if i < offset]
        for update_id in confirmed:
            if not self._pending[update_id].forced:
                del self._pending[update_id]

    def _allowed(self, update: dict[str, Any]) -> bool:
        kind = _update_type(update)
        if self._allowed_updates is None:
            return kind not in _NOT_DEFAULT_UPDATE_TYPES
        return kind in self._allowed_updates

    def _take(self, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` deliverable updates (lock held); updates of types not allowed are dropped."""
        batch: list[dict[str, Any]] = []
        for update_id in sorted(self._pending):
            pending = self._pending[update_id]
            if not self._allowed(pending.update):
                del self._pending[update_id]
                continue
            if len(batch) < limit:
                pending.forced = False
                batch.append(copy.deepcopy(pending.update))
        return batch
