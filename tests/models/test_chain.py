"""The fallback chain against loopback servers speaking the providers' wire protocols (real SDK clients)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic_ai import Agent
from pydantic_ai.exceptions import ModelOverloadedError
from pydantic_ai.models.fallback import FallbackModel
from pydantic_ai.models.function import FunctionModel

from tenure.config import AnthropicConfig, RetryPolicy
from tenure.models import CallFailed, ChainUnavailable, call
from tenure.models.chain import Link, falls_back
from tenure.models.result import recording
from tests.conftest import config_for
from tests.fakes.llm_server import FakeLLMServer, error, ok

pytestmark = [pytest.mark.usefixtures("keys"), pytest.mark.slow]  # loopback provider servers

CHAIN = {"t": ["anthropic:claude-opus-4-6", "openai:gpt-4.1"]}


async def test_success_records_serving_model_tokens_and_cost(anthropic_server, openai_server, tmp_path: Path):
    anthropic_server.push(ok("Paris", input_tokens=1000, output_tokens=200))
    config = config_for(anthropic_server, openai_server, chains=CHAIN)

    result = await call("Capital of France?", config=config, home=tmp_path, target="t")

    assert result.output == "Paris"
    assert result.requested == "chain:t"
    assert result.served_by == "anthropic:claude-opus-4-6"
    assert (result.input_tokens, result.output_tokens) == (1000, 200)
    assert result.cost_usd == pytest.approx((1000 * 5.00 + 200 * 25.00) / 1e6)  # data/pricing.toml
    assert [a.outcome for a in result.attempts] == ["ok"]
    assert openai_server.completion_requests == []
    sent = anthropic_server.completion_requests[0]
    assert sent.body["model"] == "claude-opus-4-6"
    assert sent.body["messages"][0]["content"][0]["text"] == "Capital of France?"


async def test_529_falls_back_to_next_model(anthropic_server, openai_server, tmp_path: Path):
    anthropic_server.push(*[error(529, "Overloaded", error_type="overloaded_error")] * 3)
    openai_server.push(ok("from openai", input_tokens=100, output_tokens=10))
    config = config_for(anthropic_server, openai_server, chains=CHAIN)

    result = await call("hi", config=config, home=tmp_path, target="t")

    assert result.served_by == "openai:gpt-4.1"
    assert result.output == "from openai"
    outcomes = [(a.model, a.outcome, a.error, a.status) for a in result.attempts]
    assert outcomes == [
        ("anthropic:claude-opus-4-6", "retried", "ModelOverloadedError", 529),
        ("anthropic:claude-opus-4-6", "retried", "ModelOverloadedError", 529),
        ("anthropic:claude-opus-4-6", "fell_back", "ModelOverloadedError", 529),
        ("openai:gpt-4.1", "ok", None, None),
    ]
    assert result.fallbacks[0].reason == "529 overloaded/unavailable; falling back"
    assert result.cost_usd == pytest.approx((100 * 2.00 + 10 * 8.00) / 1e6)  # priced as the model that served
    assert len(anthropic_server.completion_requests) == 3  # 1 + retries (2)


async def test_429_with_retry_after_is_retried_on_the_same_model(
    anthropic_server, openai_server, tmp_path: Path
):
    anthropic_server.push(error(429, "slow down", headers={"retry-after": "1"}), ok("after the wait"))
    config = config_for(anthropic_server, openai_server, chains=CHAIN)

    result = await call("hi", config=config, home=tmp_path, target="t")

    assert result.served_by == "anthropic:claude-opus-4-6"
    first, second = result.attempts
    assert (first.outcome, first.error, first.status, first.wait_s) == (
        "retried",
        "ModelRateLimitError",
        429,
        1.0,
    )
    assert first.reason == "429 rate limited; retrying in 1.00 s (Retry-After)"
    assert second.outcome == "ok"
    assert result.latency_ms >= 1000  # the Retry-After was honoured, not just recorded
    assert openai_server.completion_requests == []


async def test_retry_after_beyond_the_cap_falls_back_at_once(anthropic_server, openai_server, tmp_path: Path):
    anthropic_server.push(error(429, "come back in an hour", headers={"retry-after": "3600"}))
    config = config_for(anthropic_server, openai_server, chains=CHAIN)

    result = await call("hi", config=config, home=tmp_path, target="t")

    assert result.served_by == "openai:gpt-4.1"
    assert [a.outcome for a in result.attempts] == ["fell_back", "ok"]
    assert len(anthropic_server.completion_requests) == 1


async def test_400_does_not_fall_back_and_says_why(anthropic_server, openai_server, tmp_path: Path):
    anthropic_server.push(error(400, "messages: roles must alternate", error_type="invalid_request_error"))
    config = config_for(anthropic_server, openai_server, chains=CHAIN)

    with pytest.raises(CallFailed) as failure:
        await call("hi", config=config, home=tmp_path, target="t")

    message = str(failure.value)
    assert message.startswith(
        "chain:t: anthropic:claude-opus-4-6 rejected the request (400 request rejected;"
    )
    assert "roles must alternate" in message
    assert [(a.outcome, a.status) for a in failure.value.result.attempts] == [("failed", 400)]
    assert failure.value.result.served_by is None
    assert openai_server.completion_requests == []


async def test_timeout_falls_back(anthropic_server, openai_server, tmp_path: Path):
    anthropic_server.push(ok("too late", delay=5.0))
    config = config_for(anthropic_server, openai_server, timeout=0.3, chains=CHAIN, retry={"retries": 0})

    result = await call("hi", config=config, home=tmp_path, target="t")

    assert result.served_by == "openai:gpt-4.1"
    timed_out = result.attempts[0]
    assert (timed_out.outcome, timed_out.error) == ("fell_back", "ModelTimeoutError")
    assert timed_out.reason == "timed out; falling back"  # after 0.3 s, not the 5 s the answer took


async def test_rejected_key_and_malformed_body_fall_back_with_their_cause(
    anthropic_server, openai_server, tmp_path: Path
):
    config = config_for(anthropic_server, openai_server, chains=CHAIN, retry={"retries": 0})
    anthropic_server.push(error(401, "invalid x-api-key", error_type="authentication_error"))
    rejected = await call("hi", config=config, home=tmp_path, target="t")
    anthropic_server.push(error(200, raw_body=b'{"not": "a message'))
    malformed = await call("hi", config=config, home=tmp_path, target="t")

    assert rejected.served_by == malformed.served_by == "openai:gpt-4.1"
    assert (rejected.attempts[0].status, rejected.attempts[0].reason) == (
        401,
        "401 key rejected; falling back",
    )
    assert malformed.attempts[0].outcome == "fell_back"
    assert malformed.attempts[0].reason is not None
    assert malformed.attempts[0].reason.startswith("provider error:")


async def test_failing_model_cools_down_and_is_skipped_without_a_request(
    anthropic_server, openai_server, tmp_path: Path
):
    with FakeLLMServer(default=error(503, "down")) as down:
        config = config_for(down, openai_server, chains=CHAIN, retry={"retries": 0, "cooldown_after": 2})
        for _ in range(2):
            await call("hi", config=config, home=tmp_path, target="t")
        assert len(down.completion_requests) == 2

        result = await call("hi", config=config, home=tmp_path, target="t")

    assert len(down.completion_requests) == 2  # nothing sent while cooling down
    skipped = result.attempts[0]
    assert (skipped.model, skipped.outcome) == ("anthropic:claude-opus-4-6", "skipped")
    assert skipped.reason is not None
    assert skipped.reason.startswith("in cooldown for 60 s more after 2 failed calls in a row")
    assert result.served_by == "openai:gpt-4.1"


async def test_provider_without_key_is_skipped_with_the_reason(
    monkeypatch, anthropic_server, openai_server, tmp_path: Path
):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    config = config_for(anthropic_server, openai_server, chains=CHAIN)

    result = await call("hi", config=config, home=tmp_path, target="t")

    assert result.served_by == "openai:gpt-4.1"
    assert [(s.model, s.reason) for s in result.skipped] == [
        (
            "anthropic:claude-opus-4-6",
            "no key (env:ANTHROPIC_API_KEY: ANTHROPIC_API_KEY is not set in the environment)",
        )
    ]


async def test_every_model_failing_reports_each_cause(anthropic_server, openai_server, tmp_path: Path):
    anthropic_server.push(error(500, "boom"))
    openai_server.push(error(503, "maintenance"))
    config = config_for(anthropic_server, openai_server, chains=CHAIN, retry={"retries": 0})

    with pytest.raises(CallFailed) as failure:
        await call("hi", config=config, home=tmp_path, target="t")

    assert str(failure.value) == (
        "chain:t: every model failed (anthropic:claude-opus-4-6: 500 server error; falling back; "
        "openai:gpt-4.1: 503 overloaded/unavailable; falling back)"
    )


async def test_no_usable_link_names_every_reason(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.delenv("OPENAI_API_KEY")
    config = config_for(chains=CHAIN)

    with pytest.raises(
        ChainUnavailable, match=r"chain:t: no usable model \(anthropic:claude-opus-4-6: no key"
    ):
        await call("hi", config=config, home=tmp_path, target="t")


async def test_ollama_through_its_openai_compatible_endpoint(tmp_path: Path):
    with FakeLLMServer() as ollama:
        ollama.push(ok("local answer", input_tokens=30, output_tokens=3))
        config = config_for(ollama=ollama)
        result = await call("hi", config=config, home=tmp_path, target="ollama:qwen2.5:latest")

    assert (result.served_by, result.output, result.cost_usd) == (
        "ollama:qwen2.5:latest",
        "local answer",
        0.0,
    )
    assert ollama.completion_requests[0].path == "/v1/chat/completions"
    sent = ollama.completion_requests[0].body
    assert sent is not None
    assert sent["model"] == "qwen2.5:latest"


async def test_concurrent_calls_keep_their_records_apart(anthropic_server, openai_server, tmp_path: Path):
    config = config_for(anthropic_server, openai_server, chains=CHAIN)
    results = await asyncio.gather(
        *(call(f"q{i}", config=config, home=tmp_path, target="t") for i in range(8))
    )
    assert all(len(r.attempts) == 1 and r.attempts[0].outcome == "ok" for r in results)


async def test_refused_connection_falls_back_without_retrying(openai_server, tmp_path: Path):
    with FakeLLMServer() as gone:
        url = gone.url  # a port that was just closed: nothing listens there
    config = config_for(openai=openai_server, chains=CHAIN)
    config = config.model_copy(
        update={"providers": config.providers.model_copy(update={"anthropic": AnthropicConfig(base_url=url)})}
    )

    result = await call("hi", config=config, home=tmp_path, target="t")

    assert [(a.outcome, a.error, a.reason) for a in result.attempts] == [
        ("fell_back", "ModelConnectionError", "connection failed; falling back"),
        ("ok", None, None),
    ]


async def test_a_model_without_a_price_has_an_unknown_cost(openai_server, tmp_path: Path):
    config = config_for(openai=openai_server)
    result = await call("hi", config=config, home=tmp_path, target="openai:gpt-unpriced")
    assert (result.served_by, result.cost_usd) == ("openai:gpt-unpriced", None)


async def test_streamed_requests_retry_opening_the_stream_and_record_usage():
    calls = 0

    async def flaky(messages: list, info: object) -> AsyncIterator[str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ModelOverloadedError("flaky", "overloaded")
        yield "hello "
        yield "world"

    link = Link("ollama:flaky", FunctionModel(stream_function=flaky), RetryPolicy(backoff_base=0.01))
    agent = Agent(FallbackModel(link, fallback_on=falls_back))
    with recording() as attempts:
        async with agent.run_stream("hi") as run:
            assert await run.get_output() == "hello world"

    assert [(a.outcome, a.error) for a in attempts] == [("retried", "ModelOverloadedError"), ("ok", None)]
    assert attempts[1].output_tokens == 2


async def test_system_instructions_reach_each_provider_in_its_own_form(
    anthropic_server, openai_server, tmp_path: Path
):
    config = config_for(anthropic_server, openai_server)
    await call("hi", config=config, home=tmp_path, target="anthropic:claude-opus-4-6", system="Be brief.")
    await call("hi", config=config, home=tmp_path, target="openai:gpt-4.1", system="Be brief.")

    assert anthropic_server.completion_requests[0].body["system"] == [{"type": "text", "text": "Be brief."}]
    assert openai_server.completion_requests[0].body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]
