"""A failing model's cooldown is shared through the tenure home: across processes (each flow run may be
its own process), under concurrent writers, over a corrupt file, and it ends when its time is up."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic_ai.direct import model_request
from pydantic_ai.exceptions import ModelUnavailableError
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from tenure.config import Env, RetryPolicy
from tenure.models import CallResult, call
from tenure.models.chain import Link
from tenure.models.health import Health, HealthStore
from tenure.models.result import Attempt, recording
from tests.conftest import config_for
from tests.fakes.llm_server import FakeLLMServer, error

ROOT = Path(__file__).resolve().parents[2]
OPUS = "anthropic:claude-opus-4-6"
MODEL = "ollama:fake"

SECOND_PROCESS = """
import asyncio, sys
from tenure.config import Env, TenureConfig
from tenure.models import call

config = TenureConfig.model_validate_json(sys.argv[1])
result = asyncio.run(call("hi", config=config, home=Env().home, target="t"))
print(result.model_dump_json())
"""

WRITER = """
import sys, time
from pathlib import Path
from tenure.models.health import HealthStore

home, me, times = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
store = HealthStore(home)
while not (home / "go").exists():  # start together, so the writers really overlap
    time.sleep(0.005)
for _ in range(times):
    store.failed(me, cooldown_after=1_000_000, cooldown_seconds=60)
    store.failed("ollama:shared", cooldown_after=1_000_000, cooldown_seconds=60)
"""


def python(code: str, *args: str) -> subprocess.Popen[str]:
    """A fresh interpreter with this process's environment (so the same ``TENURE_HOME`` and keys)."""
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen[str]) -> str:
    """Its output, once it exited cleanly (killed if it hangs)."""
    try:
        out, err = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 0, err
    return out


@pytest.mark.slow  # a loopback provider and a second interpreter
@pytest.mark.usefixtures("keys")
async def test_a_cooldown_earned_in_one_process_is_honoured_by_the_next(openai_server):
    home = Env().home
    with FakeLLMServer(default=error(503, "down")) as down:
        retry = {"retries": 0, "cooldown_seconds": 3600}  # outlasts any slow start of the second process
        config = config_for(down, openai_server, chains={"t": [OPUS, "openai:gpt-4.1"]}, retry=retry)
        for _ in range(3):  # cooldown_after defaults to 3
            first = await call("hi", config=config, home=home, target="t")
            assert [a.outcome for a in first.attempts] == ["fell_back", "ok"]

        second = CallResult.model_validate_json(finished(python(SECOND_PROCESS, config.model_dump_json())))

        assert len(down.completion_requests) == 3  # all from this process: the second one sent nothing
    skipped = second.attempts[0]
    assert (skipped.model, skipped.outcome, second.served_by) == (OPUS, "skipped", "openai:gpt-4.1")
    assert skipped.reason is not None
    assert skipped.reason.startswith("in cooldown for ")
    assert skipped.reason.endswith(" s more after 3 failed calls in a row")


@pytest.mark.slow  # four interpreters
def test_concurrent_writers_from_several_processes_lose_no_update(tmp_path: Path):
    writers = [python(WRITER, str(tmp_path), f"ollama:model-{n}", "25") for n in range(4)]
    (tmp_path / "go").touch()
    for writer in writers:
        finished(writer)

    store = HealthStore(tmp_path)
    assert [store.get(f"ollama:model-{n}").failures for n in range(4)] == [25] * 4
    assert store.get("ollama:shared").failures == 100


async def _ask(link: Link) -> list[Attempt]:
    with recording() as attempts:
        await model_request(link, [ModelRequest.user_text_prompt("hi")])
    return attempts


def _link(home: Path, replies: list[str], policy: RetryPolicy | None = None) -> Link:
    """A link whose model answers with the next of ``replies`` ("fail": a 503-like error) per request."""

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        reply = replies.pop(0)
        if reply == "fail":
            raise ModelUnavailableError(MODEL, "down")
        return ModelResponse(parts=[TextPart(reply)])

    return Link(MODEL, FunctionModel(answer), policy or RetryPolicy(retries=0), health=HealthStore(home))


@pytest.mark.parametrize(
    "content",
    [b'{"ollama:fake": {"failures": 3, "unt', b"", b"\x00\x00\x00", b"[1, 2]", b'{"ollama:fake": 3}'],
    ids=["truncated", "empty", "binary", "not-a-table", "bad-entry"],
)
async def test_a_corrupt_file_is_tolerated_reported_once_and_replaced(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
):
    store = HealthStore(tmp_path)
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(content)
    link = _link(tmp_path, ["ok", "ok", "fail"])

    with caplog.at_level(logging.WARNING, logger="tenure.models.health"):
        assert [a.outcome for a in await _ask(link)] == ["ok"]
        assert [a.outcome for a in await _ask(link)] == ["ok"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "tenure.models.health"]
    assert len(warnings) == 1
    assert "unreadable or not the JSON table" in warnings[0]
    assert json.loads(store.path.read_bytes()) == {}

    with pytest.raises(ModelUnavailableError):
        await _ask(link)
    assert store.get(MODEL) == Health(failures=1)


async def test_the_cooldown_expires_and_the_next_success_clears_it(tmp_path: Path):
    link = _link(
        tmp_path, ["fail", "fail", "back"], RetryPolicy(retries=0, cooldown_after=2, cooldown_seconds=0.5)
    )
    for _ in range(2):
        with pytest.raises(ModelUnavailableError):
            await _ask(link)
    cooling = HealthStore(tmp_path).get(MODEL)
    assert cooling.failures == 2
    assert cooling.until > 0

    while time.time() <= cooling.until:  # wait it out, however slow the machine
        await asyncio.sleep(0.1)
    attempts = await _ask(link)

    assert [a.outcome for a in attempts] == ["ok"]  # sent again, and it answered
    assert HealthStore(tmp_path).get(MODEL) == Health()
    assert json.loads(HealthStore(tmp_path).path.read_bytes()) == {}


async def test_a_healthy_models_calls_write_nothing(tmp_path: Path):
    link = _link(tmp_path, ["ok", "ok"])
    for _ in range(2):
        await _ask(link)
    assert not (tmp_path / "state").exists()


async def test_a_home_that_cannot_be_written_never_breaks_a_call(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    home = tmp_path / "home"
    home.write_text("a file where the home directory should be")
    link = _link(home, ["fail", "ok"])

    with caplog.at_level(logging.WARNING, logger="tenure.models.health"):
        with pytest.raises(ModelUnavailableError, match="down"):  # the model's error, not the file's
            await _ask(link)
        assert [a.outcome for a in await _ask(link)] == ["ok"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "tenure.models.health"]
    assert ["could not update model health file" in w for w in warnings] == [True]
