"""Kit's ``run_python`` and ``run_tests`` in the sandbox, through scripted turns: real subprocesses that
loop, allocate, fork, open sockets and write outside; each ends with a clear limit or refusal, the turn
goes on, and nothing outside the sandbox changes (the workspace and a canary file are compared)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenure.agents.sandbox import read_roots
from tenure.agents.workspace import init_workspaces
from tests.agents.test_tools import one_turn, snapshot, tool_rows
from tests.agents.test_turn import team_config

pytestmark = pytest.mark.slow

CONFIG = team_config(kit={"run_python": {"timeout_s": 3, "memory_mb": 512}})


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    init_workspaces(home, CONFIG)
    scripts = home / "workspace" / "scripts"
    (scripts / "data.csv").write_text("a,b\n1,2\n3,4\n")
    (scripts / "outside").symlink_to(tmp_path)  # a link out: never copied into the sandbox
    return home


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    path = tmp_path / "canary.txt"
    path.write_text("untouched")
    return path


async def test_code_runs_on_a_copy_of_scripts_and_its_writes_are_thrown_away(home: Path):
    code = (
        "import csv, os\n"
        "rows = list(csv.reader(open('data.csv')))\n"
        "print(sum(int(r[1]) for r in rows[1:]))\n"
        "open('data.csv', 'w').write('overwritten')\n"
        "print(sorted(os.listdir('.')))\n"
    )
    before = snapshot(home / "workspace")
    [answer] = await one_turn("kit", home, ("run_python", {"code": code}), config=CONFIG)
    assert answer.startswith("exit code 0 (")
    assert "<stdout>\n6\n['.tenure_run.py', 'data.csv']\n\n</stdout>" in answer  # no 'outside' link
    assert snapshot(home / "workspace") == before
    [row] = tool_rows(home)
    assert (row["tool"], row["target"], row["ok"]) == ("run_python", "scripts", True)
    assert "audit hook" in row["detail"]


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("while True:\n    pass\n", "stopped at its time limit of 3 s"),
        ("x = bytearray(4 * 1024**3)\n", "stopped: it ran out of its 512 MB memory limit"),
        ("import os\nos.fork()\n", "PermissionError: the sandbox does not allow starting processes"),
        ("import subprocess\nsubprocess.run(['sh', '-c', 'echo hi'])\n", "does not allow importing"),
        (
            "import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=1)\n",
            "PermissionError: the sandbox has no network",
        ),
        (
            "open(CANARY, 'w').write('pwned')\n",
            "PermissionError: the sandbox may write only in its working copy",
        ),
        ("print(open(CANARY).read())\n", "PermissionError: the sandbox may not read"),
        ("import os\nos.remove(CANARY)\n", "PermissionError: the sandbox may change files only in its"),
        ("import ctypes\n", "ImportError: the sandbox does not allow importing ctypes"),
    ],
)
async def test_each_escape_ends_in_a_limit_or_a_refusal_and_the_turn_goes_on(
    home: Path, canary: Path, code: str, outcome: str
):
    before = snapshot(home / "workspace")
    code = f"CANARY = {str(canary)!r}\n{code}"
    [first, second] = await one_turn(
        "kit", home, ("run_python", {"code": code}), ("run_python", {"code": "print('still here')"}),
        config=CONFIG,
    )  # fmt: skip
    assert outcome in first, first
    assert "still here" in second  # the turn went on
    assert canary.read_text() == "untouched"
    assert snapshot(home / "workspace") == before
    rows = tool_rows(home)
    assert [r["ok"] for r in rows][1] is True
    if outcome.startswith("stopped"):
        assert rows[0]["ok"] is False and outcome in rows[0]["detail"]


async def test_run_tests_runs_a_projects_pytest_suite(home: Path):
    project = home / "workspace" / "projects" / "calc"
    project.mkdir(parents=True)
    (project / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (project / "test_calc.py").write_text(
        "from calc import add\n\ndef test_add():\n    assert add(2, 2) == 4\n\n"
        "def test_wrong():\n    assert add(2, 2) == 5\n"
    )
    [report, missing, escape] = await one_turn(
        "kit",
        home,
        ("run_tests", {"project": "calc"}),
        ("run_tests", {"project": "nope"}),
        ("run_tests", {"project": "../workspace-kit"}),
        config=CONFIG,
    )
    assert report.startswith("exit code 1 (") and "1 failed, 1 passed" in report
    assert "there is no project 'nope'" in missing
    assert escape.startswith("Refused:")
    assert [(r["tool"], r["ok"]) for r in tool_rows(home)] == [("run_tests", True)] + [
        ("run_tests", False)
    ] * 2


def test_the_sandbox_reads_only_the_python_installation_and_system_libraries(home: Path):
    roots = read_roots()
    assert not any(str(home).startswith(r) or r.startswith(str(home)) for r in roots)
    assert {"/usr/lib"} <= set(roots) and any(r.endswith("site-packages") for r in roots)
