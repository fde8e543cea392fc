"""Langfuse tracing through the real SDK to a loopback Langfuse: one trace per flow run with its model
requests, tool calls and dispatches nested; judge verdicts as scores; no secret in any payload; and
nothing at all when ``[langfuse]`` is absent. Each traced run is a subprocess (the provider is global)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tenure.config import parse_config
from tenure.store import ScoreLog
from tests.conftest import KEYS
from tests.fakes.langfuse_server import ExportedSpan, FakeLangfuse
from tests.fakes.llm_server import FakeLLMServer, error, ok, tool

LANGFUSE_KEYS = {"LANGFUSE_PUBLIC_KEY": "pk-lf-loopback", "LANGFUSE_SECRET_KEY": "sk-lf-loopback"}
SECRETS = [*KEYS.values(), LANGFUSE_KEYS["LANGFUSE_SECRET_KEY"]]


@pytest.fixture
def langfuse() -> Iterator[FakeLangfuse]:
    with FakeLangfuse(*LANGFUSE_KEYS.values()) as fake:
        yield fake


def python(home: Path, config: str, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    """Python in its own process with this config and the test keys, on the session's Prefect server."""
    from prefect.settings import PREFECT_API_URL

    path = home.parent / "tenure.toml"
    path.write_text(config)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env |= {**KEYS, **LANGFUSE_KEYS, "TENURE_HOME": str(home), "TENURE_CONFIG": str(path)}
    if api := PREFECT_API_URL.value():
        env["PREFECT_API_URL"] = str(api)
    env |= extra_env
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=300)


def team_config(anthropic: FakeLLMServer, langfuse_url: str | None, extra: str = "") -> str:
    section = f'[langfuse]\nhost = "{langfuse_url}"\n' if langfuse_url else ""
    return f"""{section}{extra}
[providers.anthropic]
base_url = "{anthropic.url}"
[retry]
retries = 0
[chains]
default = ["anthropic:claude-opus-4-6", "anthropic:claude-sonnet-4-6"]
specialist = ["anthropic:claude-sonnet-4-6"]
"""


def ancestors(span: ExportedSpan, by_id: dict[str, ExportedSpan]) -> list[ExportedSpan]:
    chain = []
    while span.parent_id in by_id:
        span = by_id[span.parent_id]
        chain.append(span)
    return chain


def test_the_config_table_is_checked():
    parse_config({"langfuse": {"host": "https://cloud.langfuse.com/"}})
    for bad, phrase in [
        ({"host": "localhost:3000"}, r"not an http\(s\) URL"),
        ({"host": "http://pk:sk@127.0.0.1:3000"}, "carries credentials"),
        ({"secret_key": "sk-lf-plain"}, "looks like a Langfuse key pasted into the file"),
        ({"secret_key": "plain words"}, "plain-text secrets are not allowed"),
        ({"sample_rate": 1.5}, "sample_rate"),
    ]:
        with pytest.raises(Exception, match=phrase):
            parse_config({"langfuse": bad})


def test_doctor_checks_the_keys_against_langfuse(monkeypatch: pytest.MonkeyPatch, langfuse: FakeLangfuse):
    from tenure.doctor import check_langfuse

    for name, value in LANGFUSE_KEYS.items():
        monkeypatch.setenv(name, value)
    assert check_langfuse(parse_config({})) == []
    [good] = check_langfuse(parse_config({"langfuse": {"host": langfuse.url}}))
    assert (good.status, good.detail) == ("ok", f"{langfuse.url} accepts the keys (project tenure)")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-wrong")
    [refused] = check_langfuse(parse_config({"langfuse": {"host": langfuse.url}}))
    assert refused.status == "fail" and "refused the keys (401)" in refused.detail
    monkeypatch.delenv("LANGFUSE_SECRET_KEY")
    [missing] = check_langfuse(parse_config({"langfuse": {"host": langfuse.url}}))
    assert missing.status == "fail" and "LANGFUSE_SECRET_KEY is not set" in missing.detail
    with FakeLangfuse() as gone:
        url = gone.url
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-loopback")
    [dead] = check_langfuse(parse_config({"langfuse": {"host": url, "timeout": 1}}))
    assert dead.status == "warn" and "traces are dropped until it is" in dead.detail


@pytest.mark.usefixtures("prefect_server")
def test_a_dispatch_turn_is_one_trace_with_its_requests_tool_call_and_fallback(
    tmp_path: Path, anthropic_server: FakeLLMServer, langfuse: FakeLangfuse
):
    anthropic_server.push(
        error(529, "overloaded"),  # Loki's first request: Opus is overloaded, Sonnet serves it
        tool("dispatch", {"agent": "kit", "request": "Which port does the Prefect UI use?"}, input_tokens=40),
        ok("4200", input_tokens=50, output_tokens=2),  # Kit
        ok("Kit says 4200.", input_tokens=120, output_tokens=4),  # Loki, with Kit's answer
    )
    home = tmp_path / "home"
    run = python(home, team_config(anthropic_server, langfuse.url), "-m", "tenure.cli", "ask", "Which port?")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Kit says 4200." in run.stdout

    _, rows = ScoreLog(home / "store").query(
        "SELECT role, run_id, trace_id FROM runs WHERE task_type = 'agent_turn' ORDER BY role"
    )
    [(_, kit_run, kit_trace), (_, loki_run, trace_id)] = rows
    assert trace_id and kit_trace == trace_id  # both turns, one trace, on their runs rows

    assert langfuse.wait(lambda f: any(s.attributes.get("prefect.run.id") == kit_run for s in f.spans))
    spans = [s for s in langfuse.spans if s.trace_id == trace_id]
    by_id = {s.span_id: s for s in spans}
    [root] = [s for s in spans if s.parent_id is None]
    assert root.attributes["prefect.run.id"] == loki_run
    assert root.name == "agent_turn/loki/cli" and root.attributes["prefect.run.type"] == "flow"
    assert root.attributes["session.id"] == "cli"

    [kit] = [s for s in spans if s.attributes.get("prefect.run.id") == kit_run]
    [dispatch] = [s for s in spans if s.attributes.get("gen_ai.tool.name") == "dispatch"]
    assert root in ancestors(kit, by_id) and root in ancestors(dispatch, by_id)  # dispatch and Kit's turn

    requests = [s for s in spans if "gen_ai.usage.input_tokens" in s.attributes and s.scope == "pydantic-ai"]
    assert len(requests) == 3, [s.name for s in spans]
    inputs = sorted(s.attributes["gen_ai.usage.input_tokens"] for s in requests)
    assert inputs == [40, 50, 120]
    [first] = [s for s in requests if s.attributes["gen_ai.usage.input_tokens"] == 40]
    assert first.attributes["gen_ai.response.model"] == "claude-sonnet-4-6"
    inside = [s for s in spans if first in ancestors(s, by_id)]  # the request's Prefect task run
    outcomes = [(name, attrs.get("status")) for s in inside for name, attrs in s.events if ":" in name]
    assert outcomes[:2] == [
        ("fell_back: anthropic:claude-opus-4-6", 529), ("ok: anthropic:claude-sonnet-4-6", None)
    ]  # fmt: skip
    assert all(root in ancestors(s, by_id) for s in requests)

    payloads = b"".join(langfuse.payloads)
    assert not [secret for secret in SECRETS if secret.encode() in payloads]
    assert b"Which port?" in payloads  # content capture is on by default

    from prefect.client.orchestration import get_client

    async def summary() -> str:
        async with get_client() as client:
            artifacts = await client.read_artifacts()
        return " ".join(str(a.data) for a in artifacts if str(a.flow_run_id) == loki_run)

    import asyncio

    assert f"{langfuse.url}/trace/{trace_id}" in asyncio.run(summary())


@pytest.mark.usefixtures("prefect_server")
def test_a_shadow_batch_sends_one_score_per_verdict_on_the_candidates_generation(
    tmp_path: Path, anthropic_server: FakeLLMServer, langfuse: FakeLangfuse
):
    """``tenure eval`` on three golden tasks, one loopback Ollama candidate, content capture off."""
    anthropic_server.default = tool("final_result", {"label": "urgent"})  # the ground truth, asked live
    with FakeLLMServer(default=tool("final_result", {"label": "urgent"})) as ollama:
        extra = f'capture_content = false\n[providers.ollama]\nbase_url = "{ollama.url}"\n'
        home = tmp_path / "home"
        golden = (
            "eval",
            "--golden",
            "--types",
            "classify",
            "--limit",
            "3",
            "--candidate",
            "ollama:qwen2.5:latest",
        )
        run = python(home, team_config(anthropic_server, langfuse.url, extra), "-m", "tenure.cli", *golden)
    assert run.returncode == 0, run.stderr[-3000:]
    log = ScoreLog(home / "store")
    candidates = log.records("SELECT run_id, trace_id, record FROM runs WHERE role = 'candidate'")
    judged = log.records("SELECT run_id, judge, judge_kind, score FROM scores")
    assert len(candidates) == 3 and judged

    assert langfuse.wait(lambda f: len(f.scores) >= len(judged))
    assert len(langfuse.scores) == len(judged)
    generation = {c["run_id"]: (c["trace_id"], json.loads(c["record"])["span_id"]) for c in candidates}
    sent = {(s["traceId"], s["observationId"], s["name"], s["value"]) for s in langfuse.scores}
    assert sent == {(*generation[j["run_id"]], j["judge"], j["score"]) for j in judged}
    assert {s["metadata"]["kind"] for s in langfuse.scores} == {j["judge_kind"] for j in judged}

    assert langfuse.wait(lambda f: any(s.parent_id is None for s in f.spans))
    [root] = [s for s in langfuse.spans if s.parent_id is None]
    assert root.name.startswith("shadow_eval/classify") and root.attributes["prefect.run.id"]
    calls = {s.span_id: s for s in langfuse.spans if s.name == "call ollama:qwen2.5:latest"}
    assert {span for _, span in generation.values()} <= set(calls)
    assert all(c.attributes["langfuse.observation.type"] == "generation" for c in calls.values())
    payloads = b"".join(langfuse.payloads)
    assert not [secret for secret in SECRETS if secret.encode() in payloads]
    assert b"Northbeam" not in payloads and b"langfuse.observation.input" not in payloads  # capture off


OFF = """
import asyncio, json, sys
from opentelemetry import trace
from tenure.models import call, tracing
from tenure.runtime import runtime

rt = runtime()
result = asyncio.run(call("hello", config=rt.config, home=rt.home, target="anthropic:claude-sonnet-4-6"))
print(json.dumps({"output": result.output, "trace_id": result.trace_id, "on": tracing.active() is not None,
                  "sdk": "langfuse" in sys.modules, "provider": type(trace.get_tracer_provider()).__name__}))
"""


def test_with_langfuse_off_nothing_is_loaded_or_exported(
    tmp_path: Path, anthropic_server: FakeLLMServer, langfuse: FakeLangfuse
):
    """No ``[langfuse]`` table: even with Langfuse's own environment variables set, the SDK is never
    imported, no tracer provider is installed, runs carry no trace id and nothing reaches Langfuse."""
    anthropic_server.push(ok("hi there"))
    config = team_config(anthropic_server, None)
    run = python(tmp_path / "home", config, "-c", OFF, LANGFUSE_BASE_URL=langfuse.url)
    assert run.returncode == 0, run.stderr[-3000:]
    facts = json.loads(run.stdout)
    assert facts == {"output": "hi there", "trace_id": None, "on": False, "sdk": False,
                     "provider": "ProxyTracerProvider"}  # fmt: skip
    assert langfuse.payloads == []


def test_a_run_sampled_out_has_no_trace_id_and_exports_nothing(
    tmp_path: Path, anthropic_server: FakeLLMServer, langfuse: FakeLangfuse
):
    anthropic_server.push(ok("unsampled"))
    config = team_config(anthropic_server, langfuse.url, "sample_rate = 0.0\n")
    run = python(tmp_path / "home", config, "-c", OFF)
    assert run.returncode == 0, run.stderr[-3000:]
    facts = json.loads(run.stdout)
    assert facts["output"] == "unsampled" and facts["on"] and facts["trace_id"] is None
    assert [p for p in langfuse.payloads if p] == []  # the exporter flushed at exit: no span to send


def test_a_dead_langfuse_never_fails_a_call(tmp_path: Path, anthropic_server: FakeLLMServer):
    """Langfuse configured but not listening: the answer comes back, the exit is clean, the record still
    has its trace id (the spans are dropped by the exporter after its timeout)."""
    with FakeLangfuse() as gone:
        url = gone.url  # a port that was just free, and is closed again below
    anthropic_server.push(ok("still here"))
    config = team_config(anthropic_server, url, "timeout = 1\n")
    run = python(tmp_path / "home", config, "-c", OFF)
    assert run.returncode == 0, run.stderr[-3000:]
    facts = json.loads(run.stdout)
    assert facts["output"] == "still here" and len(facts["trace_id"]) == 32
    assert facts["on"] and facts["sdk"] and facts["provider"] == "TracerProvider"
