"""Scripted loopback HTTP server speaking (just enough of) three LLM provider wire protocols.

The same :class:`FakeLLMServer` instance answers, by path:

* Anthropic Messages API: ``POST /v1/messages``
* OpenAI Chat Completions (also Ollama's OpenAI-compatible endpoint): ``POST /v1/chat/completions``
* Ollama native: ``GET /api/tags``, ``GET /api/version`` (and ``GET /`` / ``GET /v1/models``)

Completion POSTs consume scripted :class:`Reply` objects from one shared FIFO queue (see
:meth:`FakeLLMServer.push`); when the queue is empty the ``responder`` (a function of the request body)
answers if one is set, else the server's ``default`` reply.
Only non-streaming responses are supported: a request with ``"stream": true`` gets a 400.

Standard library only, so it can be used with the real official SDK clients::

    with FakeLLMServer() as server:
        server.push(ok("hello"), error(529, error_type="overloaded_error"))
        client = anthropic.AsyncAnthropic(api_key="k", base_url=server.url, max_retries=0)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["FakeLLMServer", "RecordedRequest", "Reply", "error", "ok"]

ANTHROPIC_MESSAGES_PATH = "/v1/messages"
OPENAI_CHAT_PATH = "/v1/chat/completions"
COMPLETION_PATHS = frozenset({ANTHROPIC_MESSAGES_PATH, OPENAI_CHAT_PATH})

_POLL = 0.02  # granularity of stop()'s wait for handler threads to finish
_OLLAMA_VERSION = "0.12.0"

_ANTHROPIC_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

_OPENAI_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "conflict_error",
    422: "invalid_request_error",
    429: "rate_limit_exceeded",
    500: "server_error",
    503: "server_error",
}


@dataclass
class Reply:
    """One scripted answer to a completion request.

    For a success (``status < 400``) ``text`` is the assistant message; for an error it is the error
    message. ``raw_body``, when set, is sent verbatim instead of a protocol-shaped JSON body.
    """

    status: int = 200
    text: str = "ok"
    input_tokens: int = 10
    output_tokens: int = 5
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    error_type: str | None = None
    raw_body: bytes | None = None
    tool_call: tuple[str, dict[str, Any]] | None = None
    """(tool name, arguments): answer with a tool call instead of text (structured output, tools)."""


def ok(text: str = "ok", **kw: Any) -> Reply:
    """A successful reply whose assistant text is ``text``."""
    return Reply(status=200, text=text, **kw)


def tool(name: str, arguments: dict[str, Any], **kw: Any) -> Reply:
    """A successful reply that calls tool ``name`` (pydantic-ai's structured output is ``final_result``)."""
    return Reply(status=200, tool_call=(name, arguments), **kw)


def error(status: int, message: str = "scripted error", **kw: Any) -> Reply:
    """An error reply with HTTP ``status`` and error ``message`` (``error_type=`` to override the type)."""
    return Reply(status=status, text=message, **kw)


def _openai_message(reply: Reply) -> dict[str, Any]:
    if reply.tool_call is None:
        return {"role": "assistant", "content": reply.text}
    name, arguments = reply.tool_call
    call = {
        "id": f"call_{uuid.uuid4().hex[:20]}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }
    return {"role": "assistant", "content": None, "tool_calls": [call]}


@dataclass
class RecordedRequest:
    """A request as received by the fake server."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased keys
    body: dict | None  # parsed JSON object, or None (no body / not a JSON object)


def _anthropic_error_type(status: int) -> str:
    if status in _ANTHROPIC_ERROR_TYPES:
        return _ANTHROPIC_ERROR_TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def _openai_error_type(status: int) -> str:
    if status in _OPENAI_ERROR_TYPES:
        return _OPENAI_ERROR_TYPES[status]
    return "server_error" if status >= 500 else "invalid_request_error"


def _anthropic_error_body(status: int, message: str, error_type: str | None) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": error_type or _anthropic_error_type(status), "message": message},
        "request_id": f"req_{uuid.uuid4().hex[:24]}",
    }


def _openai_error_body(status: int, message: str, error_type: str | None) -> dict[str, Any]:
    etype = error_type or _openai_error_type(status)
    return {"error": {"message": message, "type": etype, "param": None, "code": etype}}


def _ollama_model_entry(name: str) -> dict[str, Any]:
    family = name.split(":", 1)[0].split(".", 1)[0] or "llama"
    return {
        "name": name,
        "model": name,
        "modified_at": "2026-01-01T00:00:00Z",
        "size": 1,
        "digest": "sha256:" + hashlib.sha256(name.encode()).hexdigest(),
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": family,
            "families": [family],
            "parameter_size": "7B",
            "quantization_level": "Q4_K_M",
        },
    }


class _Handler(BaseHTTPRequestHandler):
    """Request handler; all state lives on the owning :class:`FakeLLMServer`."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out separately; Nagle would hold the body ~40 ms
    server_version = "FakeLLMServer/1.0"
    sys_version = ""
    server: _HTTPServer

    # -- plumbing -----------------------------------------------------------------------------------

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
                    # Consume optional trailers up to the terminating blank line.
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)  # CRLF after each chunk
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        content_type = "application/json"
        extra = dict(headers or {})
        for key in list(extra):
            if key.lower() == "content-type":
                content_type = extra.pop(key)
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in extra.items():
                if key.lower() in ("content-length", "connection"):
                    continue
                self.send_header(key, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            # The client went away (e.g. it timed out while we were delaying).
            self.close_connection = True

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers)

    # -- dispatch -----------------------------------------------------------------------------------

    def _handle(self) -> None:
        raw = self._read_body()
        path = self.path.split("?", 1)[0]
        if len(path) > 1:
            path = path.rstrip("/")
        body: dict | None = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            body = parsed if isinstance(parsed, dict) else None
        fake = self.server.fake
        fake._record(
            RecordedRequest(
                method=self.command,
                path=path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
        )

        if self.command == "POST" and path in COMPLETION_PATHS:
            self._completion(path, raw, body)
        elif self.command in ("GET", "HEAD"):
            self._get(path)
        else:
            self._not_found(path)

    def _get(self, path: str) -> None:
        fake = self.server.fake
        if path == "/api/tags":
            self._send_json(200, {"models": [_ollama_model_entry(m) for m in fake.ollama_models]})
        elif path == "/api/version":
            self._send_json(200, {"version": _OLLAMA_VERSION})
        elif path == "/v1/models":
            created = int(time.time())
            data = [
                {"id": m, "object": "model", "created": created, "owned_by": "library"}
                for m in fake.ollama_models
            ]
            self._send_json(200, {"object": "list", "data": data})
        elif path == "/":
            self._send(200, b"Ollama is running", {"Content-Type": "text/plain; charset=utf-8"})
        else:
            self._not_found(path)

    def _not_found(self, path: str) -> None:
        message = f"fake LLM server: no route for {self.command} {path}"
        self._send_json(404, {"error": {"message": message, "type": "not_found_error", "code": None}})

    def _protocol_error(self, path: str, status: int, message: str, error_type: str | None = None) -> None:
        if path == ANTHROPIC_MESSAGES_PATH:
            self._send_json(status, _anthropic_error_body(status, message, error_type))
        else:
            self._send_json(status, _openai_error_body(status, message, error_type))

    def _completion(self, path: str, raw: bytes, body: dict | None) -> None:
        if body is None:
            self._protocol_error(path, 400, "fake LLM server: request body is not a JSON object")
            return
        if body.get("stream") is True:
            self._protocol_error(
                path,
                400,
                "fake LLM server: streaming is not supported by the fake; send stream=false",
            )
            return

        fake = self.server.fake
        reply = fake._next_reply(body)
        if reply.delay > 0 and not fake._sleep(reply.delay):
            # Server is stopping: drop the connection without answering.
            self.close_connection = True
            return

        if reply.raw_body is not None:
            self._send(reply.status, reply.raw_body, reply.headers)
            return

        model = body.get("model") if isinstance(body.get("model"), str) else "fake-model"
        if path == ANTHROPIC_MESSAGES_PATH:
            headers = {"request-id": f"req_{uuid.uuid4().hex[:24]}", **reply.headers}
            if reply.status >= 400:
                payload = _anthropic_error_body(reply.status, reply.text, reply.error_type)
            else:
                payload = {
                    "id": f"msg_{uuid.uuid4().hex[:24]}",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [
                        {
                            "type": "tool_use",
                            "id": f"toolu_{uuid.uuid4().hex[:20]}",
                            "name": reply.tool_call[0],
                            "input": reply.tool_call[1],
                        }
                        if reply.tool_call
                        else {"type": "text", "text": reply.text}
                    ],
                    "stop_reason": "tool_use" if reply.tool_call else "end_turn",
                    "stop_sequence": None,
                    "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
                }
        else:
            headers = {"x-request-id": f"req_{uuid.uuid4().hex[:24]}", **reply.headers}
            if reply.status >= 400:
                payload = _openai_error_body(reply.status, reply.text, reply.error_type)
            else:
                payload = {
                    "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": _openai_message(reply),
                            "finish_reason": "tool_calls" if reply.tool_call else "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": reply.input_tokens,
                        "completion_tokens": reply.output_tokens,
                        "total_tokens": reply.input_tokens + reply.output_tokens,
                    },
                }
        self._send_json(reply.status, payload, headers)

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fake: FakeLLMServer) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Disconnects are expected (client timeouts, stop()); anything else is a bug worth showing.
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) or self.fake._stopping.is_set():
            return
        super().handle_error(request, client_address)


class FakeLLMServer:
    """Scripted fake of the Anthropic, OpenAI and Ollama HTTP APIs on 127.0.0.1 (random port).

    ``url`` is ``"http://127.0.0.1:PORT"`` (no trailing slash, no ``/v1``). Use it as ``base_url``
    for Anthropic, ``url + "/v1"`` for OpenAI and ``host`` for Ollama.
    """

    def __init__(
        self,
        default: Reply | None = None,
        ollama_models: Sequence[str] = ("qwen2.5:latest",),
        responder: Callable[[dict[str, Any]], Reply] | None = None,
    ) -> None:
        self.default: Reply = default if default is not None else ok("ok")
        self.responder = responder
        """Answers a completion request from its body when nothing is queued (before ``default``)."""
        self.ollama_models: list[str] = list(ollama_models)
        self.requests: list[RecordedRequest] = []
        self.url: str = ""
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting ----------------------------------------------------------------------------------

    def push(self, *replies: Reply) -> None:
        """Queue replies; each POST to a completion endpoint consumes one, in order.

        When the queue is empty the ``default`` reply (``ok("ok")`` if None) is used.
        """
        with self._lock:
            self._queue.extend(replies)

    @property
    def pending(self) -> int:
        """Number of queued replies not yet consumed."""
        with self._lock:
            return len(self._queue)

    @property
    def completion_requests(self) -> list[RecordedRequest]:
        """Only the POSTs to ``/v1/messages`` and ``/v1/chat/completions``, in arrival order."""
        with self._lock:
            return [r for r in self.requests if r.method == "POST" and r.path in COMPLETION_PATHS]

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> FakeLLMServer:
        """Bind to 127.0.0.1 on a free port and serve in a daemon thread. Returns ``self``."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer(self)
        host, port = self._httpd.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeLLMServer:{port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving promptly: wake delayed handlers, close open keep-alive connections."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=2)
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            with self._lock:
                if not self._connections:
                    break
            time.sleep(_POLL)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals used by the handler --------------------------------------------------------------

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return self.responder(body) if self.responder else self.default

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _sleep(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; return False early (immediately) if the server is stopping."""
        return not self._stopping.wait(seconds)

    def _register_connection(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.add(conn)

    def _unregister_connection(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)
