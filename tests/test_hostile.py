"""A careful but hostile new user: bad input of every kind, as a real ``tenure`` subprocess on a fresh home.

Every case must end with exit 1 or 2, one or two lines on stderr naming the problem, no traceback,
nothing written outside ``TENURE_HOME`` (the working folder and ``$HOME`` are watched), and a score log
that still reads. The cases run two at a time in one session fixture; each test reads its result.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tenure.store import ScoreLog
from tenure.store.rows import TABLE_NAMES

pytestmark = pytest.mark.slow

Setup = Callable[[Path], None]


def files(**contents: str | bytes) -> Setup:
    """Files to lay out in the home (``__`` in a name is a ``/``)."""

    def lay_out(home: Path) -> None:
        for name, content in contents.items():
            path = home / name.replace("__", "/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)

    return lay_out


def config(text: str) -> Setup:
    return files(**{"tenure.toml": text})


def damaged_segment(home: Path) -> None:
    (home / "store" / "scores").mkdir(parents=True)
    (home / "store" / "scores" / "20260101T000000-aaaa.parquet").write_bytes(b"PAR1 truncated")


def foreign_segment(home: Path) -> None:
    (home / "store" / "runs").mkdir(parents=True)
    pq.write_table(pa.table({"name": ["a"]}), home / "store" / "runs" / "x.parquet")


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    stderr: str
    """A regular expression the stderr must match (the problem, named)."""
    setup: Setup | None = None
    stdin: str = ""
    codes: tuple[int, ...] = (2,)
    env: dict[str, str] = field(default_factory=dict)


ANTHROPIC_KEY = "sk-ant-api03-" + "Q" * 40
OPENAI_KEY = "sk-proj-" + "Z" * 40

CASES = [
    # config
    Case("config-not-toml", ("scores",), r"not valid TOML", config("[[[oops")),
    Case("config-unknown-key", ("scores",), r"bogus: unknown key", config("bogus = 1\n")),
    Case(
        "config-key-pasted-as-env",
        ("scores",),
        r"looks like an Anthropic API key pasted",
        config(f'[providers.anthropic]\napi_key = "env:{ANTHROPIC_KEY}"\n'),
    ),
    Case(
        "config-key-pasted-as-op",
        ("scores",),
        r"looks like an OpenAI API key pasted",
        config(f'[providers.openai]\napi_key = "op://{OPENAI_KEY}"\n'),
    ),
    Case(
        "config-bare-key",
        ("doctor",),
        r"looks like an OpenAI API key",
        config(f'[providers.openai]\napi_key = "{OPENAI_KEY}"\n'),
    ),
    Case(
        "config-base-url-not-a-url",
        ("scores",),
        r"'not a url' is not an http\(s\) URL",
        config('[providers.openai]\nbase_url = "not a url"\n'),
    ),
    Case(
        "config-base-url-with-password",
        ("doctor",),
        r"https://\*\*\*@example\.invalid/v1 carries credentials",
        config('[providers.openai]\nbase_url = "https://me:hunter2@example.invalid/v1"\n'),
    ),
    Case(
        "config-not-utf8",
        ("scores",),
        r"cannot be read: 'utf-8' codec",
        files(**{"tenure.toml": b"\xff\xfe"}),
    ),
    Case("config-is-a-folder", ("scores",), r"Is a directory", files(**{"tenure.toml__x": "x"})),
    Case("config-bad-chunking", ("scores",), r"chunk_overlap", config("[vault]\nchunk_overlap = 500\n")),
    Case(
        "home-is-a-file",
        ("scores",),
        r"TENURE_HOME is .*, which is a file",
        files(**{"afile": "x"}),
        env={"TENURE_HOME": "{home}/afile"},
    ),
    # usage
    Case("unknown-command", ("nosuch",), r"No such command 'nosuch'"),
    Case("unknown-option", ("scores", "--bogus"), r"No such option: --bogus"),
    Case("bad-duration", ("cost", "--since", "yesterday"), r"'yesterday': use a number and d, h or m"),
    Case("chat-id-not-a-number", ("telegram", "allow", "abc"), r"chat_id"),
    # route
    Case("route-unknown-type", ("route", "nosuch"), r"unknown task type 'nosuch'", stdin="{}"),
    Case(
        "route-missing-file", ("route", "classify", "--input", "nofile.json"), r"cannot read the task input"
    ),
    Case("route-bad-json", ("route", "classify"), r"not valid JSON", stdin="{nope"),
    Case("route-empty-input", ("route", "classify"), r"not valid JSON", stdin=""),
    Case("route-not-an-object", ("route", "classify"), r"must be a JSON object", stdin="[1, 2]"),
    Case("route-missing-field", ("route", "classify"), r"task field 'labels'", stdin='{"text": "hi"}'),
    # sql
    Case("sql-drop", ("sql", "DROP TABLE runs"), r"only one read-only SELECT"),
    Case("sql-read-a-file", ("sql", "select * from read_csv('/etc/passwd')"), r"Permission Error"),
    Case("sql-glob", ("sql", "select * from glob('/etc/*')"), r"Permission Error"),
    Case("sql-syntax", ("sql", "selec 1"), r"not valid SQL: Parser Error"),
    Case("sql-two-statements", ("sql", "select 1; select 2"), r"only one read-only SELECT"),
    Case("sql-empty", ("sql", ""), r"got nothing"),
    Case("sql-unknown-table", ("sql", "select * from nope"), r"nope does not exist"),
    Case("sql-timeout-zero", ("sql", "--timeout", "0", "select 1"), r"--timeout"),
    # store
    Case("store-damaged-segment", ("store", "check"), r"1 damaged segments", damaged_segment, codes=(1,)),
    Case("store-foreign-segment", ("store", "check"), r"1 damaged segments", foreign_segment, codes=(1,)),
    # vault
    Case(
        "vault-index-a-file",
        ("vault", "index", "{home}/README.md"),
        r"is a file, not a folder",
        files(**{"README.md": "# hi"}),
    ),
    Case("vault-index-missing", ("vault", "index", "{home}/nope"), r"does not exist"),
    Case("vault-index-no-path", ("vault", "index"), r"no vault given"),
    Case("vault-search-empty", ("vault", "search", "  "), r"the query is empty"),
    Case("vault-search-k-zero", ("vault", "search", "x", "-k", "0"), r"'-k'"),
    Case("vault-search-bad-date", ("vault", "search", "x", "--since", "May"), r"'--since'"),
    # agents
    Case("ask-thread-climbs-out", ("ask", "--thread", "../x", "hi"), r"thread id '\.\./x' is not usable"),
    Case("ask-thread-absolute", ("ask", "--thread", "/etc/passwd", "hi"), r"is not usable"),
    Case("ask-empty-message", ("ask", "   "), r"the message is empty"),
    Case("ask-oversize-message", ("ask", "-"), r"the limit is 100,000", stdin="x" * 1_000_000),
    Case("ask-unknown-agent", ("ask", "--agent", "bogus", "hi"), r"no agent named 'bogus'"),
    Case("ask-unknown-chain", ("ask", "--chain", "bogus", "hi"), r"no chain named 'bogus'"),
    Case("ask-two-targets", ("ask", "--agent", "kit", "--model", "local:gemma-3-270m", "hi"), r"exclusive"),
    # eval and the control plane
    Case("eval-neither-set", ("eval",), r"exactly one of --golden"),
    Case("eval-unknown-type", ("eval", "--golden", "--types", "nosuch"), r"unknown task type 'nosuch'"),
    Case(
        "eval-candidate-not-an-id", ("eval", "--golden", "--candidate", "bogus"), r"'bogus' is not a model id"
    ),
    Case(
        "eval-candidate-ollama-down",
        ("eval", "--golden", "--candidate", "ollama:typo-model"),
        r"Ollama is not reachable at http://127.0.0.1:9",
        config('[providers.ollama]\nbase_url = "http://127.0.0.1:9"\n'),
        codes=(1,),
    ),
    Case(
        "eval-candidate-without-key",
        ("eval", "--golden", "--candidate", "openai:gpt-4.1-mini"),
        r"cannot answer here: no key",
        codes=(1,),
    ),
    Case(
        "eval-other-local-model", ("eval", "--golden", "--candidate", "local:other"), r"not an embedded model"
    ),
    Case("backtest-bogus-model", ("backtest", "--model", "bogus", "--type", "classify"), r"not a model id"),
    Case("promote-unknown-type", ("promote", "local:gemma-3-270m", "nosuch"), r"unknown task type"),
    Case(
        "demote-not-promoted", ("demote", "local:gemma-3-270m", "classify"), r"is not promoted for classify"
    ),
    Case("review-unknown-type", ("review", "--type", "nosuch"), r"unknown task type"),
]


@dataclass(frozen=True)
class Outcome:
    code: int
    stderr: str
    outside_before: dict[str, int]
    outside_after: dict[str, int]
    home: Path


def _tree(*roots: Path) -> dict[str, int]:
    return {str(p): p.lstat().st_size for root in roots for p in sorted(root.rglob("*"))}


def _run(case: Case, base: Path) -> Outcome:
    home, cwd, user = base / "tenure-home", base / "cwd", base / "user-home"
    for folder in (home, cwd, user):
        folder.mkdir(parents=True)
    (cwd / "notes.txt").write_text("a file of the user's\n")
    if case.setup:
        case.setup(home)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_API_KEY") and not k.startswith("TENURE_") and k != "PREFECT_HOME"
    }
    env.update(TENURE_HOME=str(home), HOME=str(user), COLUMNS="200", HF_HUB_OFFLINE="1")
    env.update({k: v.replace("{home}", str(home)) for k, v in case.env.items()})
    before = _tree(cwd, user)
    done = subprocess.run(
        [sys.executable, "-m", "tenure.cli", *(a.replace("{home}", str(home)) for a in case.args)],
        input=case.stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )
    return Outcome(done.returncode, done.stderr, before, _tree(cwd, user), home)


@pytest.fixture(scope="session")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    base = tmp_path_factory.mktemp("hostile")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {case.name: pool.submit(_run, case, base / case.name) for case in CASES}
        return {name: future.result() for name, future in futures.items()}


def test_there_are_at_least_forty_cases_with_distinct_names():
    assert len({c.name for c in CASES}) == len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_bad_input_gets_one_clear_line_and_harms_nothing(case: Case, outcomes: dict[str, Outcome]):
    result = outcomes[case.name]
    lines = result.stderr.strip().splitlines()
    assert result.code in case.codes, (result.code, result.stderr)
    assert "Traceback" not in result.stderr
    assert 1 <= len(lines) <= 2, result.stderr
    assert re.search(case.stderr, result.stderr), result.stderr
    for secret in (ANTHROPIC_KEY, OPENAI_KEY, "hunter2"):
        assert secret not in result.stderr
    assert result.outside_after == result.outside_before  # nothing written outside TENURE_HOME
    store = result.home / "store"
    if store.is_dir():  # still readable, table by table
        log = ScoreLog(store)
        for table in TABLE_NAMES:
            log.count(table)
