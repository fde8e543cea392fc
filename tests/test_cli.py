"""The `tenure` command as a user runs it: a real subprocess, no keys, no network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tenure.resources import data_path

pytestmark = pytest.mark.slow


def tenure(
    *args: str, home: Path, config: Path | None = None, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(TENURE_HOME=str(home), COLUMNS="200", HF_HUB_OFFLINE="1", **extra_env)
    env.pop("TENURE_CONFIG", None)
    if config:
        env["TENURE_CONFIG"] = str(config)
    return subprocess.run(
        [sys.executable, "-m", "tenure.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_help_lists_the_commands(model_home: Path):
    run = tenure("--help", home=model_home)
    assert run.returncode == 0
    for command in ("ask", "doctor", "demo"):
        assert command in run.stdout


def test_ask_the_embedded_model_for_a_completion(model_home: Path):
    run = tenure("ask", "--model", "local:gemma-3-270m", "The capital of France is", home=model_home)
    assert run.returncode == 0, run.stderr
    first_line = run.stdout.splitlines()[0]
    assert first_line.startswith("The capital of France is") and len(first_line) > len(
        "The capital of France is"
    )
    assert "served by local:gemma-3-270m" in run.stdout
    assert "cost $0.000000" in run.stdout


def test_doctor_exits_zero_with_no_keys_when_the_embedded_model_works(model_home: Path):
    run = tenure("doctor", home=model_home)
    assert run.returncode == 0, run.stdout + run.stderr
    rows = {line.split("│")[1].strip(): line for line in run.stdout.splitlines() if line.count("│") >= 4}
    assert "ok" in rows["embedded model"] and "tokens/s" in rows["embedded model"]
    assert "warn" in rows["anthropic key"] and "ANTHROPIC_API_KEY is not set" in rows["anthropic key"]
    assert "warn" in rows["ollama"]
    assert "ok" in rows["config"]


def test_demo_runs_the_chain_then_scores_every_task_type_for_the_embedded_model(
    model_home: Path, tmp_path: Path
):
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    for gguf in (model_home / "models").glob("*.gguf"):
        (home / "models" / gguf.name).symlink_to(gguf)
    run = tenure("demo", "--limit", "1", home=home)
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("served by local:gemma-3-270m  asked chain:default") == 3
    assert "skipped anthropic:claude-opus-4-6, anthropic:claude-sonnet-4-6: no key" in run.stdout
    assert "3 calls, served by local:gemma-3-270m, total cost $0.000000" in run.stdout
    board = run.stdout.split("scoreboard", 1)[1]
    for task_type in (
        "analyze",
        "classify",
        "code_transform",
        "extract",
        "format",
        "rag_synthesis",
        "summarize",
    ):
        assert task_type in board

    counted = tenure(
        "sql", "--json", "select task_type, count(*) as n from scores group by 1 order by 1", home=home
    )
    assert counted.returncode == 0, counted.stderr
    rows = [json.loads(block) for block in counted.stdout.replace("}\n{", "}\x00{").split("\x00")]
    assert [(r["task_type"], r["n"]) for r in rows] == [
        (t, 1)
        for t in ("analyze", "classify", "code_transform", "extract", "format", "rag_synthesis", "summarize")
    ]
    scores = tenure("scores", home=home)
    assert scores.returncode == 0 and "label_match" in scores.stdout and "heuristic:minilm" in scores.stdout

    memory = run.stdout.split("semantic memory over the sample vault", 1)[1]
    assert "notes   100" in memory and "chunks  299" in memory
    proxmox, sofia = memory.split("tenure vault search '")[1:]
    assert "decisions/2026-06-03-adopt-proxmox-on-nas-01.md" in proxmox
    assert "1. people/sofia-marquez.md" in sofia
    assert not (home / "vault_index").exists()  # the demo keeps its own index


def test_sql_refuses_writes(model_home: Path):
    run = tenure("sql", "drop view scores", home=model_home)
    assert run.returncode == 2
    assert "only one read-only SELECT is allowed (got DROP)" in run.stderr


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("select * from read_csv('/etc/passwd')", 'Cannot access file "/etc/passwd"'),
        ("select * from read_text('/etc/hostname')", 'Cannot access file "/etc/hostname"'),
        ("select * from glob('/etc/*')", 'Cannot access file "/etc/*"'),
        ("select * from read_parquet('http://127.0.0.1:9/x.parquet')", "Cannot access file"),
        ("select count(*) from range(100000000000) a", "ran past its 0.5 s limit and was stopped"),
    ],
)
def test_sql_reads_nothing_but_the_store_and_stops_at_its_timeout(tmp_path: Path, query: str, message: str):
    run = tenure("sql", "--timeout", "0.5", query, home=tmp_path)
    assert run.returncode == 2, run.stdout
    assert message in run.stderr and "Traceback" not in run.stderr


def test_invalid_config_exits_2_with_one_line_per_problem_and_starts_nothing(
    model_home: Path, tmp_path: Path
):
    bad = tmp_path / "tenure.toml"
    bad.write_text('chains.default = ["gpt4"]\n[retry]\nretries = -1\n')
    run = tenure("ask", "--model", "local:gemma-3-270m", "hello", home=model_home, config=bad)
    assert run.returncode == 2
    assert run.stdout == ""
    assert f"{bad}: chains.default[0]: 'gpt4' is not a model id" in run.stderr
    assert f"{bad}: retry.retries: Input should be greater than or equal to 0 (got -1)" in run.stderr
    assert "2 problem(s)" in run.stderr


def test_exclusive_options_are_refused(model_home: Path):
    run = tenure("ask", "--model", "local:gemma-3-270m", "--chain", "default", "x", home=model_home)
    assert run.returncode == 2
    assert "--agent, --model and --chain are exclusive" in run.stderr


def test_ask_json_prints_the_whole_record(model_home: Path):
    run = tenure(
        "ask", "--json", "--model", "local:gemma-3-270m", "--max-tokens", "4", "Hello", home=model_home
    )
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout)
    assert record["served_by"] == "local:gemma-3-270m"
    assert record["output_tokens"] <= 4
    assert record["attempts"][0]["outcome"] == "ok"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b'{"text": "x"}', "task field 'labels': Field required"),
        (b"\xff\xfe\x00bad", "task input is not valid UTF-8"),
        (b'{"text": "' + b"x" * 10_500_000 + b'", "labels": ["a", "b"]}', "characters; the limit is 200,000"),
    ],
)
def test_route_refuses_bad_input_and_writes_nothing(tmp_path: Path, payload: bytes, message: str):
    task_file = tmp_path / "task.json"
    task_file.write_bytes(payload)
    run = tenure("route", "classify", "--input", str(task_file), home=tmp_path / "home")
    assert run.returncode == 2
    assert message in run.stderr
    assert not (tmp_path / "home" / "store").exists()


def test_route_refuses_an_unknown_task_type(tmp_path: Path):
    task_file = tmp_path / "task.json"
    task_file.write_text('{"text": "x"}')
    run = tenure("route", "translate", "--input", str(task_file), home=tmp_path / "home")
    assert run.returncode == 2
    assert "unknown task type 'translate'; expected one of analyze, classify, code_transform" in run.stderr


def test_backtest_with_an_empty_archive_says_what_to_do(tmp_path: Path):
    run = tenure("backtest", "--model", "local:gemma-3-270m", "--type", "classify", home=tmp_path / "home")
    assert run.returncode == 0, run.stderr
    assert "no archived classify ground truth yet: route some tasks first" in run.stdout


SAMPLE = data_path("vault")


def test_vault_index_search_and_status_on_a_small_vault(tmp_path: Path):
    vault = tmp_path / "vault"
    for rel in (
        "decisions/2026-06-03-adopt-proxmox-on-nas-01.md",
        "people/dev-patel.md",
        "projects/home-server.md",
    ):
        (vault / rel).parent.mkdir(parents=True, exist_ok=True)
        (vault / rel).write_text((SAMPLE / rel).read_text())
    home = tmp_path / "home"
    run = tenure("vault", "index", str(vault), home=home)
    assert run.returncode == 0, run.stderr
    assert "notes   3" in run.stdout and f"index: {home / 'vault_index'}" in run.stdout

    found = tenure("vault", "search", "Proxmox reinstall", "--json", "-k", "2", home=home)
    assert found.returncode == 0, found.stderr
    hits = [json.loads(line) for line in found.stdout.splitlines()]
    assert len(hits) == 2 and hits[0]["path"] == "decisions/2026-06-03-adopt-proxmox-on-nas-01.md"
    assert set(hits[0]) == {"path", "title", "headings", "snippet", "score", "date", "tags", "stale", "text"}
    assert hits[0]["date"] == "2026-06-03" and hits[0]["stale"] is False

    dated = tenure("vault", "search", "Proxmox", "--folder", "people", "--mode", "keyword", home=home)
    assert (
        dated.returncode == 0
        and "1. people/dev-patel.md" in dated.stdout
        and "decisions/" not in dated.stdout
    )

    (vault / "people" / "dev-patel.md").write_text("# Dev Patel\n\nMoved to Lisbon.\n")
    status = tenure("vault", "status", home=home)
    assert status.returncode == 0, status.stderr
    assert "notes    3 indexed, 0 skipped" in status.stdout
    assert "stale    1 changed, 0 new, 0 deleted since the last run" in status.stdout
    assert "changed people/dev-patel.md" in status.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("vault", "search", "anything"), 1, "no vault index at"),
        (("vault", "status"), 1, "no vault index at"),
        (("vault", "index", "/nonexistent/vault"), 2, "vault folder /nonexistent/vault does not exist"),
        (("vault", "index"), 2, "no vault given: pass one (tenure vault index PATH) or set vault.path"),
        (("vault", "search", "x", "--since", "2026-13-01"), 2, "'2026-13-01' does not match the formats"),
        (("vault", "search", "x", "--mode", "fuzzy"), 2, "'fuzzy' is not one of"),
    ],
)
def test_vault_commands_explain_bad_input(tmp_path: Path, args: tuple[str, ...], code: int, message: str):
    run = tenure(*args, home=tmp_path)
    assert run.returncode == code
    assert message in " ".join((run.stdout + run.stderr).replace("│", " ").split())


def test_agents_init_lays_out_the_workspaces_and_list_shows_them(tmp_path: Path):
    home = tmp_path / "home"
    before = tenure("agents", "list", home=home)
    assert before.returncode == 0 and "run tenure agents init" in before.stdout
    run = tenure("agents", "init", home=home)
    assert run.returncode == 0, run.stderr
    assert f"linked {home / 'workspace-kit' / 'MEMORY.md'} -> ../workspace/MEMORY.md" in run.stdout
    listing = subprocess.run(["ls", "-l", str(home / "workspace-kit")], capture_output=True, text=True).stdout
    for item in ("MEMORY.md", "projects", "content", "skills", "scripts"):
        assert f"{item} -> ../workspace/{item}" in listing
    assert tenure("agents", "init", home=home).stdout.strip() == "workspaces are up to date"
    after = tenure("agents", "list", home=home)
    assert after.stdout.count(" ok") == 5 and "🐱 loki (main)" in after.stdout
    assert after.stdout.count("specialist: anthropic:claude-sonnet-4-6") == 4
    assert after.stdout.count("local:gemma-3-270m") == 5  # every chain ends in the embedded model
    assert "run_python" in after.stdout and "sandbox: 30 s, 1,024 MB" in after.stdout  # Kit's walls
    assert "scores: ≤ 200 rows, 10 s" in after.stdout and "web: wikipedia.org" in after.stdout


def test_ask_with_no_keys_is_answered_by_the_local_end_without_tools(model_home: Path, tmp_path: Path):
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    for gguf in (model_home / "models").glob("*.gguf"):
        (home / "models" / gguf.name).symlink_to(gguf)
    run = tenure("ask", "The capital of France is", home=home)
    assert run.returncode == 0, run.stderr
    out = " ".join(run.stdout.split())
    assert "🐱 loki:" in out
    assert "served by local:gemma-3-270m" in out
    assert "skipped anthropic:claude-opus-4-6: no key" in out
    assert "which cannot call tools; answered without vault_search, memory_read" in out
    assert (home / "workspace-kit" / "SOUL.md").is_file()  # the first turn laid out the workspaces


def test_ask_with_a_loopback_provider_dispatches_to_a_specialist(tmp_path: Path):
    from tests.fakes.llm_server import FakeLLMServer, ok, tool

    home, config = tmp_path / "home", tmp_path / "tenure.toml"
    with FakeLLMServer() as server:
        config.write_text(
            f'[providers.anthropic]\nbase_url = "{server.url}"\n[retry]\nretries = 0\n'
            '[chains]\ndefault = ["anthropic:claude-opus-4-6"]\n'
            'specialist = ["anthropic:claude-sonnet-4-6"]\n'
        )
        server.push(
            tool("dispatch", {"agent": "sara", "request": "A title for a post about shadow evaluation"}),
            ok("Earning Tenure: Local Models on Evidence"),
            ok("Sara suggests: Earning Tenure: Local Models on Evidence"),
        )
        run = tenure(
            "ask",
            "--thread",
            "tg-7",
            "Title for my post?",
            home=home,
            config=config,
            ANTHROPIC_API_KEY="sk-ant-test",
        )
    assert run.returncode == 0, run.stderr
    out = " ".join(run.stdout.split())
    assert "🐱 loki: Sara suggests: Earning Tenure: Local Models on Evidence" in out
    assert "served by anthropic:claude-opus-4-6" in out and "thread tg-7" in out
    assert "tool calls dispatch (sara: answered)" in out
    assert "dispatched to sara: ✍️ sara: Earning Tenure: Local Models on Evidence" in out
    assert "sk-ant-test" not in run.stdout + run.stderr

    bad = tenure("ask", "--agent", "bob", "hi", home=home)
    assert bad.returncode == 2 and "no agent named 'bob'" in bad.stderr


def test_up_refuses_a_prefect_api_url_that_does_not_answer_and_status_says_how_to_start(tmp_path: Path):
    home = tmp_path / "home"
    dead = "http://127.0.0.1:9/api"  # the discard port: nothing answers there

    up = tenure("up", home=home, PREFECT_API_URL=dead)
    assert up.returncode == 1
    assert f"PREFECT_API_URL={dead} does not answer; start that server or unset it" in up.stderr
    assert not (home / "run").exists()  # nothing started, no pid files

    status = tenure("status", home=home, PREFECT_API_URL=dead)
    assert status.returncode == 1
    assert f"no Prefect API answers at {dead}; start tenure with `tenure up`" in status.stderr
    down = tenure("down", home=home)
    assert (down.returncode, down.stdout.strip()) == (0, "nothing started by `tenure up` is running")


def test_eval_names_an_ollama_model_not_pulled_and_fails_when_no_answer_could_be_scored(tmp_path: Path):
    from tests.fakes.llm_server import FakeLLMServer, error

    with FakeLLMServer(
        ollama_models=["qwen2.5:latest"], responder=lambda _: error(500, "model crashed")
    ) as ollama:
        config = tmp_path / "tenure.toml"
        config.write_text(f'[providers.ollama]\nbase_url = "{ollama.url}"\n[retry]\nretries = 0\n')
        home = tmp_path / "home"
        typo = tenure(
            "eval",
            "--golden",
            "--types",
            "classify",
            "--candidate",
            "ollama:qwen2.5:typo",
            home=home,
            config=config,
        )
        assert typo.returncode == 2 and not ollama.completion_requests  # refused before any flow or call
        assert typo.stderr.strip() == (
            "ollama:qwen2.5:typo: Ollama has not pulled qwen2.5:typo (pulled: qwen2.5:latest); "
            "ollama pull qwen2.5:typo"
        )
        failing = tenure(
            "eval", "--golden", "--types", "classify", "--limit", "2", "--candidate", "ollama:qwen2.5:latest",
            home=home, config=config,
        )  # fmt: skip
    assert failing.returncode == 1, failing.stderr
    (line,) = failing.stderr.strip().splitlines()
    assert line.startswith("no candidate's answer could be scored (ollama:qwen2.5:latest: ") and "500" in line
