"""code_transform: apply an instruction to Python code; judged by parsing and running the task's tests."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from tenure.control.task_types.base import TaskInput, TaskType, block
from tenure.control.verdict import Verdict

__all__ = ["CODE_TEST_TIMEOUT_S", "TASK_TYPE", "CodeInput", "code_tests"]

CODE_TEST_TIMEOUT_S = 10.0


class CodeInput(TaskInput):
    language: Literal["python"] = "python"
    code: str = Field(min_length=1)
    instruction: str = Field(min_length=1)
    tests: str | None = None
    """Python asserts run against the transformed code, when given."""


def _strip_fence(code: str) -> str:
    match = re.search(r"```(?:python|py)?\n(.*?)```", code, re.S)
    return match.group(1) if match else code


def code_tests(output: Any, tests: str | None) -> Verdict:
    """Parses (0 if not); with tests, runs them on the code in a fresh interpreter (1 pass, 0.25 fail)."""
    code = _strip_fence(str(output))
    try:
        ast.parse(code)
    except SyntaxError as exc:
        return Verdict(
            "code_tests", "deterministic", 0.0, False, f"does not parse: line {exc.lineno}: {exc.msg}"
        )
    if not tests:
        return Verdict("code_parse", "deterministic", 1.0, True, "parses (the task has no tests)")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "candidate.py"
        script.write_text(f"{code}\n\n{tests}\n", encoding="utf-8")
        try:
            run = subprocess.run(
                [sys.executable, "-I", str(script)],
                capture_output=True,
                text=True,
                timeout=CODE_TEST_TIMEOUT_S,
                cwd=tmp,
            )
        except subprocess.TimeoutExpired:
            return Verdict(
                "code_tests", "deterministic", 0.25, False, f"tests timed out ({CODE_TEST_TIMEOUT_S:g} s)"
            )
    if run.returncode == 0:
        return Verdict("code_tests", "deterministic", 1.0, True, "parses and passes the tests")
    last = (run.stderr.strip().splitlines() or ["failed"])[-1]
    return Verdict("code_tests", "deterministic", 0.25, False, f"parses, tests fail: {last}"[:200])


TASK_TYPE = TaskType[CodeInput](
    name="code_transform",
    input_model=CodeInput,
    instructions="Apply the instruction to the code. Output only the complete transformed code, no prose.",
    render=lambda d: f"Instruction: {d.instruction}\nCode ({d.language}):\n{block('code', d.code)}",
    examples=(
        (
            {
                "code": "def total(xs):\n    t = 0\n    for x in xs:\n        t += x\n    return t",
                "instruction": "Use the built-in sum.",
            },
            "def total(xs):\n    return sum(xs)",
        ),
    ),
    rubric="Does the candidate code make the same change with the same behaviour?",
    judge=lambda output, reference, d: code_tests(output, d.tests),
    form_only=frozenset({"code_parse"}),  # without tests, "it parses" says nothing of what the code does
    stop=("\n\n\n", "Instruction:"),
    max_tokens=320,
)
