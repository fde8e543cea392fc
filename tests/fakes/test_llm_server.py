"""Prove the fake LLM server is accepted by the real official SDK clients."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import anthropic
import httpx
import ollama
import openai
import pytest
from anthropic.types import Message, MessageParam
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam

from .llm_server import FakeLLMServer, Reply, error, ok

pytestmark = pytest.mark.slow  # every test here starts the fake server


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as srv:
        yield srv


def _anthropic(
    server: FakeLLMServer, timeout: float | anthropic.NotGiven = anthropic.NOT_GIVEN
) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(api_key="k", base_url=server.url, max_retries=0, timeout=timeout)


def _openai(server: FakeLLMServer, timeout: float | openai.NotGiven = openai.NOT_GIVEN) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="k", base_url=server.url + "/v1", max_retries=0, timeout=timeout)


USER_MSG: list[MessageParam] = [{"role": "user", "content": "hi"}]
OPENAI_USER_MSG: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


def test_anthropic_success_returns_scripted_text_and_usage(server: FakeLLMServer) -> None:
    server.push(ok("hello from claude", input_tokens=42, output_tokens=7), ok("second"))

    async def go() -> tuple[Message, Message, Message]:
        async with _anthropic(server) as client:
            first = await client.messages.create(model="claude-x", max_tokens=16, messages=USER_MSG)
            # Same client -> keep-alive connection reuse; then the queue is empty -> default reply.
            second = await client.messages.create(model="claude-x", max_tokens=16, messages=USER_MSG)
            third = await client.messages.create(model="claude-y", max_tokens=16, messages=USER_MSG)
            return first, second, third

    first, second, third = asyncio.run(go())
    assert first.content[0].type == "text"
    assert first.content[0].text == "hello from claude"
    assert first.usage.input_tokens == 42
    assert first.usage.output_tokens == 7
    assert first.model == "claude-x"
    assert first.stop_reason == "end_turn"
    assert second.content[0].type == "text"
    assert second.content[0].text == "second"
    assert third.content[0].type == "text"
    assert third.content[0].text == "ok"
    assert third.model == "claude-y"

    reqs = server.completion_requests
    assert [r.path for r in reqs] == ["/v1/messages"] * 3
    assert reqs[0].method == "POST"
    auth = reqs[0].headers
    assert auth.get("x-api-key") == "k" or auth.get("authorization") == "Bearer k"
    assert "anthropic-version" in auth
    assert reqs[0].body is not None and reqs[0].body["messages"] == USER_MSG


def test_anthropic_overloaded_529_raises_internal_server_error(server: FakeLLMServer) -> None:
    server.push(error(529, "Overloaded", error_type="overloaded_error"))

    async def go() -> None:
        async with _anthropic(server) as client:
            await client.messages.create(model="claude-x", max_tokens=16, messages=USER_MSG)

    with pytest.raises(anthropic.InternalServerError) as info:
        asyncio.run(go())
    exc = info.value
    assert isinstance(exc, anthropic.APIStatusError)
    assert exc.status_code == 529
    assert isinstance(exc.body, dict)
    assert exc.body["error"] == {"type": "overloaded_error", "message": "Overloaded"}


def test_anthropic_default_error_types_and_stream_rejected(server: FakeLLMServer) -> None:
    server.push(error(429, "slow down"), error(400, "bad"))

    async def go() -> list[Exception]:
        errors: list[Exception] = []
        async with _anthropic(server) as client:
            for _ in range(2):
                try:
                    await client.messages.create(model="m", max_tokens=1, messages=USER_MSG)
                except anthropic.APIStatusError as exc:
                    errors.append(exc)
            try:
                await client.messages.create(model="m", max_tokens=1, messages=USER_MSG, stream=True)
            except anthropic.APIStatusError as exc:
                errors.append(exc)
        return errors

    rate, bad, stream = asyncio.run(go())
    assert isinstance(rate, anthropic.RateLimitError)
    assert isinstance(rate.body, dict)
    assert rate.body["error"]["type"] == "rate_limit_error"
    assert isinstance(bad, anthropic.BadRequestError)
    assert isinstance(bad.body, dict)
    assert bad.body["error"]["type"] == "invalid_request_error"
    assert isinstance(stream, anthropic.BadRequestError)
    assert "streaming is not supported" in str(stream)
    assert server.pending == 0


def test_openai_success_and_rate_limit_retry_after(server: FakeLLMServer) -> None:
    server.push(
        ok("hello from gpt", input_tokens=3, output_tokens=4),
        error(429, "Rate limit reached", headers={"retry-after": "2"}),
    )

    async def go() -> tuple[ChatCompletion, openai.RateLimitError]:
        async with _openai(server) as client:
            completion = await client.chat.completions.create(model="gpt-x", messages=OPENAI_USER_MSG)
            try:
                await client.chat.completions.create(model="gpt-x", messages=OPENAI_USER_MSG)
            except openai.RateLimitError as exc:
                return completion, exc
            raise AssertionError("expected RateLimitError")

    completion, rate = asyncio.run(go())
    assert completion.choices[0].message.content == "hello from gpt"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "gpt-x"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (3, 4)
    assert completion.usage.total_tokens == 7
    assert rate.status_code == 429
    assert rate.response.headers["retry-after"] == "2"
    assert isinstance(rate.body, dict)
    assert rate.body["type"] == "rate_limit_exceeded"
    assert "Rate limit reached" in str(rate)
    assert [r.headers["authorization"] for r in server.completion_requests] == ["Bearer k"] * 2


def test_ollama_list_version_and_openai_compatible_chat() -> None:
    models = ["qwen2.5:latest", "llama3.2:3b"]
    with FakeLLMServer(default=ok("from ollama"), ollama_models=models) as server:
        with ollama.Client(host=server.url) as ollama_client:
            listed = ollama_client.list()
        assert [m.model for m in listed.models] == models
        assert listed.models[0].details is not None
        assert httpx.get(server.url + "/api/version").json() == {"version": "0.12.0"}

        async def go() -> str | None:
            async with openai.AsyncOpenAI(api_key="ollama", base_url=server.url + "/v1", max_retries=0) as c:
                resp = await c.chat.completions.create(model="qwen2.5:latest", messages=OPENAI_USER_MSG)
                return resp.choices[0].message.content

        assert asyncio.run(go()) == "from ollama"
        assert [(r.method, r.path) for r in server.requests] == [
            ("GET", "/api/tags"),
            ("GET", "/api/version"),
            ("POST", "/v1/chat/completions"),
        ]
        assert len(server.completion_requests) == 1


def test_raw_body_is_sent_verbatim(server: FakeLLMServer) -> None:
    server.push(Reply(raw_body=b"{not json", headers={"x-extra": "1"}))
    resp = httpx.post(server.url + "/v1/chat/completions", json={"model": "m", "messages": USER_MSG})
    assert resp.status_code == 200
    assert resp.content == b"{not json"
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["x-extra"] == "1"


def test_delay_provokes_client_timeout_and_stop_is_prompt() -> None:
    server = FakeLLMServer().start()
    try:
        server.push(ok("too late", delay=30))

        async def go_anthropic() -> None:
            async with _anthropic(server, timeout=0.5) as client:
                await client.messages.create(model="m", max_tokens=1, messages=USER_MSG)

        with pytest.raises(anthropic.APITimeoutError):
            asyncio.run(go_anthropic())

        server.push(ok("too late", delay=30))

        async def go_openai() -> None:
            async with _openai(server, timeout=0.5) as client:
                await client.chat.completions.create(model="m", messages=OPENAI_USER_MSG)

        with pytest.raises(openai.APITimeoutError):
            asyncio.run(go_openai())
    finally:
        serving = server._thread
        server.stop()
    # stop() woke the handler still sleeping in its 30 s delay: the serving thread is gone and no
    # connection is left open
    assert serving is not None and not serving.is_alive()
    assert server._connections == set()
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/api/version", timeout=1)
