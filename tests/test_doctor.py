"""Doctor checks that need a peer: Ollama's model list through the real `ollama` client."""

from __future__ import annotations

import pytest

from tenure.config import parse_config
from tenure.doctor import check_ollama
from tests.fakes.llm_server import FakeLLMServer


@pytest.mark.slow
def test_ollama_lists_models_and_names_the_missing_ones_with_the_fix():
    with FakeLLMServer(ollama_models=["qwen2.5:latest", "phi4:latest"]) as ollama:
        config = parse_config({"providers": {"ollama": {"base_url": ollama.url}}})
        present = check_ollama(config)
        wanting = parse_config(
            {"providers": {"ollama": {"base_url": ollama.url}}, "chains": {"x": ["ollama:llama3.2:3b"]}}
        )
        missing = check_ollama(wanting)

    assert (present.status, present.detail) == (
        "ok",
        f"reachable at {ollama.url}; 2 models: qwen2.5:latest, phi4:latest",
    )
    assert (missing.status, missing.fix) == ("warn", "ollama pull llama3.2:3b")
    assert "missing llama3.2:3b" in missing.detail


@pytest.mark.slow
def test_ollama_not_running_is_a_warning_not_a_failure():
    with FakeLLMServer() as gone:
        url = gone.url
    check = check_ollama(parse_config({"providers": {"ollama": {"base_url": url}}}))
    assert check.status == "warn"
    assert check.detail.startswith(f"not reachable at {url}")
    assert check.fix.startswith("start it with 'ollama serve'")


def test_workspaces_check_names_what_to_repair(tmp_path):
    from tenure.agents.workspace import init_workspaces
    from tenure.config import TenureConfig
    from tenure.doctor import check_workspaces

    config = TenureConfig()
    assert (check_workspaces(config, tmp_path).status, check_workspaces(config, tmp_path).fix) == (
        "warn",
        "tenure agents init",
    )
    init_workspaces(tmp_path, config)
    assert check_workspaces(config, tmp_path).status == "ok"
    (tmp_path / "workspace-liv" / "skills").unlink()
    check = check_workspaces(config, tmp_path)
    assert (check.status, check.detail) == ("warn", "liv: skills missing")


def test_vault_check_says_how_to_index(tmp_path):
    from tenure.doctor import check_vault

    check = check_vault(parse_config({"vault": {"path": "/notes"}}), tmp_path)
    assert (check.status, check.detail, check.fix) == (
        "warn",
        "not indexed yet (vault.path = /notes)",
        "tenure vault index PATH",
    )


@pytest.mark.slow
def test_the_sandbox_check_runs_the_sandbox_and_names_its_walls():
    from tenure.doctor import check_sandbox

    [check] = check_sandbox(parse_config({}))
    assert check.status in ("ok", "warn"), check
    assert "audit hook" in check.detail and "RLIMIT_CPU" in check.detail
    if check.status == "warn":  # a machine without a network namespace or Landlock says which and how
        assert check.fix.startswith("for the kernel wall:")
    nobody_codes = parse_config({"agents": {"kit": {"tools": ["vault_search"]}}})
    assert check_sandbox(nobody_codes) == []  # no agent runs code: no check


def test_doctor_lists_damaged_segments_and_the_fix(tmp_path):
    from tenure.doctor import check_store
    from tenure.store import ScoreLog
    from tests.store.test_log import score

    log = ScoreLog(tmp_path / "store")
    assert check_store(tmp_path).status == "ok"
    log.append("scores", [score(1)])
    log.append("scores", [score(2)])
    log.segments("scores")[0].write_bytes(b"")
    check = check_store(tmp_path)
    assert (check.status, check.fix) == ("warn", "tenure store check --quarantine")
    assert "1 damaged segments are skipped: scores/" in check.detail and "cannot be read" in check.detail
