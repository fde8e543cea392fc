"""tenure.toml validation: every bad key reported once, with its path and the expected form."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tenure.config import DEFAULT_CHAIN, ConfigError, Env, TenureConfig, load_config
from tenure.runtime import runtime


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "tenure.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as failure:
        load_config(path)
    assert failure.value.path == path
    return failure.value.problems


def test_no_file_gives_the_shipped_defaults_which_need_no_keys():
    config = load_config()
    assert config == TenureConfig()
    assert config.chain("default") == list(DEFAULT_CHAIN)
    assert config.chain("default")[-1] == "local:gemma-3-270m"
    assert config.providers.anthropic.api_key == "env:ANTHROPIC_API_KEY"  # a reference, never a key


def test_config_path_follows_tenure_home_and_tenure_config(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("TENURE_HOME", str(tmp_path / "h"))
    assert Env().config_path == tmp_path / "h" / "tenure.toml"
    monkeypatch.setenv("TENURE_CONFIG", str(tmp_path / "elsewhere.toml"))
    assert Env().config_path == tmp_path / "elsewhere.toml"
    with pytest.raises(ConfigError, match="file not found; create it or unset TENURE_CONFIG"):
        load_config()


def test_toml_syntax_error(tmp_path: Path):
    assert problems(tmp_path, "[retry\nretries = 2\n") == [
        "not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 7)"
    ]


def test_unknown_key_lists_the_known_ones(tmp_path: Path):
    assert problems(tmp_path, "[retry]\nretrys = 3\n") == [
        "retry.retrys: unknown key; expected one of retries, backoff_base, backoff_max, max_retry_after, "
        "cooldown_after, cooldown_seconds"
    ]


def test_bad_model_id_in_a_chain(tmp_path: Path):
    assert problems(tmp_path, 'chains.fast = ["anthropic:claude-sonnet-4-6", "gpt4"]\n') == [
        "chains.fast[1]: 'gpt4' is not a model id; expected anthropic:NAME, openai:NAME, ollama:NAME[:TAG] "
        "or local:gemma-3-270m"
    ]


def test_plain_text_secret_is_refused(tmp_path: Path):
    assert problems(tmp_path, '[providers.anthropic]\napi_key = "my password"\n') == [
        "providers.anthropic.api_key: plain-text secrets are not allowed; expected a reference: env:NAME, "
        "op://vault/item/field or prefect-secret://name"
    ]


KEY = "sk-ant-api03-" + "x" * 40


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (f'[providers.anthropic]\napi_key = "{KEY}"\n', "an Anthropic API key"),
        (f'[providers.anthropic]\napi_key = "env:{KEY}"\n', "an Anthropic API key"),
        ('[providers.openai]\napi_key = "op://sk-proj-' + "y" * 40 + '"\n', "an OpenAI API key"),
        ('[channels.telegram]\ntoken = "123456789:' + "A" * 35 + '"\n', "a Telegram bot token"),
        (f'[channels.telegram]\nowner_chat = "{KEY}"\n', "an Anthropic API key"),
    ],
)
def test_a_pasted_key_is_named_by_its_kind_and_never_shown(tmp_path: Path, text: str, kind: str):
    (problem,) = problems(tmp_path, text)
    assert f"looks like {kind}" in problem
    assert "x" * 20 not in problem and "y" * 20 not in problem and "A" * 20 not in problem


@pytest.mark.parametrize(
    ("url", "phrase"),
    [
        ("not a url", "'not a url' is not an http(s) URL"),
        ("ftp://example.com", "is not an http(s) URL"),
        ("http://", "is not an http(s) URL"),
        ("http://host:port/v1", "has a port that is not a number"),
        ("https://me:hunter2@example.com/v1", "https://***@example.com/v1 carries credentials"),
    ],
)
def test_a_base_url_is_checked_and_its_password_never_shown(tmp_path: Path, url: str, phrase: str):
    (problem,) = problems(tmp_path, f'[providers.openai]\nbase_url = "{url}"\n')
    assert phrase in problem and "hunter2" not in problem


def test_wrong_type_and_out_of_range(tmp_path: Path):
    text = '[retry]\nretries = "three"\n[task_types.summarize.gate]\nbar = 1.5\n'
    assert problems(tmp_path, text) == [
        "retry.retries: Input should be a valid integer, unable to parse string as an integer (got 'three')",
        "task_types.summarize.gate.bar: Input should be less than or equal to 1 (got 1.5)",
    ]


def test_unknown_task_type_is_refused_with_the_registered_ones(monkeypatch, tmp_path: Path):
    path = tmp_path / "tenure.toml"
    path.write_text('[task_types.translate]\ncandidates = ["ollama:qwen2.5:latest"]\n')
    monkeypatch.setenv("TENURE_CONFIG", str(path))
    with pytest.raises(ConfigError) as failure:
        runtime()  # the task-type registry checks the tables every entry point starts from
    assert failure.value.path == path
    assert failure.value.problems == [
        "task_types.translate: unknown task type; expected one of analyze, classify, code_transform, "
        "extract, format, rag_synthesis, summarize"
    ]


def test_references_to_missing_chains_are_each_reported(tmp_path: Path):
    text = '[task_types.classify]\nground_truth = "fast"\n[agents.kit]\nchain = "cheap"\n'
    assert problems(tmp_path, text) == [
        "task_types.classify.ground_truth: no chain named 'fast'; "
        "expected one of default, judge, local, specialist",
        "agents.kit.chain: no chain named 'cheap'; expected one of default, judge, local, specialist",
    ]


def test_bad_secret_reference_form(tmp_path: Path):
    assert problems(tmp_path, '[providers.openai]\napi_key = "op://only-a-vault"\n') == [
        "providers.openai.api_key: 'op://only-a-vault' is not a valid 1Password reference; "
        "expected op://vault/item/field"
    ]


def test_user_chains_add_to_the_shipped_ones(tmp_path: Path):
    path = tmp_path / "tenure.toml"
    path.write_text('chains.fast = ["ollama:qwen2.5:latest"]\n[providers.anthropic]\nbase_url = "http://x"\n')
    config = load_config(path)
    assert config.chain("fast") == ["ollama:qwen2.5:latest"]
    assert config.chain("default") == list(DEFAULT_CHAIN)
    assert config.providers.anthropic.api_key == "env:ANTHROPIC_API_KEY"  # default kept beside the override


def test_every_readme_config_example_is_valid(tmp_path: Path):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    examples = [block.split("```", 1)[0] for block in readme.split("```toml\n")[1:]]
    assert len(examples) >= 3  # Telegram, email triage, the whole configuration
    path = tmp_path / "tenure.toml"
    for example in examples:
        path.write_text(textwrap.dedent(example))
        load_config(path)
    path.write_text(readme.split("## Configuration", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0])
    config = load_config(path)
    assert config.providers.anthropic.api_key is not None
    assert config.providers.anthropic.api_key.startswith("op://")


def test_chain_name_that_looks_like_a_model_id(tmp_path: Path):
    assert problems(tmp_path, 'chains."local:gemma-3-270m" = ["local:gemma-3-270m"]\n') == [
        "chains.local:gemma-3-270m: not a chain name; expected letters, digits, '-' or '_' "
        "(model ids go inside the list)"
    ]
