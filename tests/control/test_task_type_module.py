"""A task type is one module: a toy type written to a temporary file and named in tenure.toml goes
through routing, shadowing, judging and the score log with no other file touched.

It runs in a fresh process, as a flow run on a worker does, so the registry it loads is that process's
own: the config names the module, and the process finds it from there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tenure.store import ScoreLog
from tests.fakes.llm_server import FakeLLMServer, ok

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("keys", "prefect_server")]

TOY = '''"""reverse: the words of a text in reverse order (a toy type, defined outside tenure)."""

from pydantic import Field

from tenure.control.task_types.base import TaskInput, TaskType
from tenure.control.verdict import Verdict


class ReverseInput(TaskInput):
    text: str = Field(min_length=1)


def same_words(output, reference, data):
    ok = str(output).split() == str(reference).split()
    reason = "same words, same order" if ok else "differs"
    return Verdict("same_words", "deterministic", float(ok), ok, reason)


TASK_TYPE = TaskType[ReverseInput](
    name="reverse",
    input_model=ReverseInput,
    instructions="Reverse the order of the words. Answer with the words only.",
    render=lambda d: f"Text: {d.text}",
    examples=(({"text": "one two three"}, "three two one"),),
    rubric="Are the same words in the same order?",
    judge=same_words,
)
'''

DRIVER = """
import asyncio, json
from tenure.control.routing import route_task
from tenure.control.scoreboard import scoreboard
from tenure.control.task import parse_task
from tenure.flows.shadow_eval import shadow_pending
from tenure.runtime import runtime

rt = runtime()
task = parse_task({"id": "r-1", "input": {"text": "the lazy dog"}}, task_type="reverse")
routed = asyncio.run(route_task(task, rt.config, rt.home))
drained = asyncio.run(shadow_pending())
board = [[r.model, r.task_type, r.judge, r.use, r.n, r.mean] for r in scoreboard(rt.log, rt.config)]
print(json.dumps({"output": routed.output, "drained": drained, "board": board}))
"""


def test_a_toy_type_in_its_own_module_is_routed_shadowed_judged_and_scored(
    tmp_path: Path, anthropic_server: FakeLLMServer
):
    (tmp_path / "toy_reverse.py").write_text(TOY)
    with FakeLLMServer() as ollama:
        config = tmp_path / "tenure.toml"
        config.write_text(
            f"""task_type_modules = ["toy_reverse"]
[providers.anthropic]
base_url = "{anthropic_server.url}"
[providers.ollama]
base_url = "{ollama.url}"
[chains]
default = ["anthropic:claude-opus-4-6"]
[task_types.reverse]
candidates = ["ollama:qwen2.5:latest"]
"""
        )
        anthropic_server.push(ok("dog lazy the"))  # the ground truth
        ollama.push(ok("dog lazy the"))  # the candidate's shadow answer
        from prefect.settings import PREFECT_API_URL

        env = {
            **os.environ,
            "TENURE_CONFIG": str(config),
            "PYTHONPATH": os.pathsep.join([str(tmp_path), str(Path(__file__).resolve().parents[2])]),
            "PREFECT_API_URL": PREFECT_API_URL.value() or "",
            "PREFECT_LOGGING_LEVEL": "WARNING",
        }
        run = subprocess.run(
            [sys.executable, "-c", DRIVER], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path
        )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])

    assert result["output"] == "dog lazy the"
    assert result["drained"] == {"reverse": {"ollama:qwen2.5:latest": {"scored": 1, "mean": 1.0}}}
    assert result["board"] == [["ollama:qwen2.5:latest", "reverse", "same_words", "evidence", 1, 1.0]]
    [score] = ScoreLog.for_home(Path(os.environ["TENURE_HOME"])).query(
        "SELECT task_type, candidate, judge, judge_kind, score, reason FROM scores"
    )[1]
    assert score == (
        "reverse",
        "ollama:qwen2.5:latest",
        "same_words",
        "deterministic",
        1.0,
        "same words, same order",
    )
    asked = json.dumps(anthropic_server.completion_requests[0].body)
    assert "Reverse the order of the words" in asked and "Text: the lazy dog" in asked  # the module's prompt
