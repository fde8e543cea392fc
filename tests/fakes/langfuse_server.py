"""A loopback Langfuse: its OTLP/HTTP trace endpoint (protobuf, gzip or not), its score endpoint and the
projects endpoint (which answers for a project's keys).

Only the ingestion side of Langfuse's public API, as the Langfuse SDK speaks it: Basic auth with the
project's public and secret key, ``x-langfuse-ingestion-version: 4`` on span exports, a JSON list of
scores on ``POST /api/public/scores``. Every body is kept as received (decompressed) so a test can scan
what left the process, and every span is decoded with ``opentelemetry-proto``.
"""

from __future__ import annotations

import base64
import gzip
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

__all__ = ["ExportedSpan", "FakeLangfuse"]

TRACES = "/api/public/otel/v1/traces"
SCORES = "/api/public/scores"
PROJECTS = "/api/public/projects"


@dataclass(frozen=True)
class ExportedSpan:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    scope: str
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    status: int = 0
    """0 unset, 1 ok, 2 error (OTLP's StatusCode)."""


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


def _decode(body: bytes) -> list[ExportedSpan]:
    request = ExportTraceServiceRequest.FromString(body)
    return [
        ExportedSpan(
            trace_id=span.trace_id.hex(),
            span_id=span.span_id.hex(),
            parent_id=span.parent_span_id.hex() or None,
            name=span.name,
            scope=scoped.scope.name,
            attributes={kv.key: _value(kv.value) for kv in span.attributes},
            events=[(e.name, {kv.key: _value(kv.value) for kv in e.attributes}) for e in span.events],
            status=span.status.code,
        )
        for resource in request.resource_spans
        for scoped in resource.scope_spans
        for span in scoped.spans
    ]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != self.server.fake.authorization:
            return self._send(401, b'{"message": "Invalid credentials"}', "application/json")
        if self.path == PROJECTS:
            return self._send(200, b'{"data": [{"id": "loopback", "name": "tenure"}]}', "application/json")
        self._send(404, b'{"message": "not found"}', "application/json")

    def do_POST(self) -> None:
        fake = self.server.fake
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        with fake.lock:
            fake.payloads.append(body)
        if self.headers.get("Authorization") != fake.authorization:
            return self._send(401, b'{"message": "Invalid credentials"}', "application/json")
        if self.path == TRACES and self.headers.get("x-langfuse-ingestion-version") == "4":
            spans = _decode(body)
            with fake.lock:
                fake.spans += spans
            return self._send(200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")
        if self.path == SCORES:
            scores = json.loads(body)
            with fake.lock:
                fake.scores += scores if isinstance(scores, list) else [scores]
            return self._send(202, b'{"message": "Accepted"}', "application/json")
        self._send(404, b'{"message": "not found"}', "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeLangfuse) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)


class FakeLangfuse:
    """Langfuse's ingestion endpoints on 127.0.0.1 (a free port); ``url`` is the ``host`` to configure."""

    def __init__(self, public_key: str = "pk-lf-loopback", secret_key: str = "sk-lf-loopback") -> None:
        token = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
        self.authorization = f"Basic {token}"
        self.lock = threading.Lock()
        self.spans: list[ExportedSpan] = []
        self.scores: list[dict[str, Any]] = []
        self.payloads: list[bytes] = []
        """Every request body, decompressed, accepted or not."""
        self._server = _Server(self)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

    def __enter__(self) -> FakeLangfuse:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=2)

    def wait(self, done: Callable[[FakeLangfuse], bool], timeout: float = 20.0) -> bool:
        """Poll until ``done(self)`` holds (exports arrive from the SDK's background threads)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if done(self):
                    return True
            time.sleep(0.05)
        return False
