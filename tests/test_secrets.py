"""Secret references: env, 1Password (a real `op` executable on PATH) and redaction everywhere."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tenure import secrets
from tenure.config import parse_config
from tenure.models import CallFailed, call
from tenure.secrets import REDACTED, SecretError, parse_secret_ref, resolve
from tests.fakes.llm_server import error

VALUE = "sk-ant-op-SECRET-4242"
REF = "op://Private/Anthropic API Key/credential"


@pytest.fixture
def fake_op(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An `op` on PATH that answers `op read --no-newline REF` like the 1Password CLI, logging each call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "op.log"
    script = bin_dir / "op"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> "{log}"\n'
        'if [ "$1" = "read" ] && [ "$2" = "--no-newline" ] && [ "$3" = "' + REF + '" ]; then\n'
        f'  printf "%s" "{VALUE}"; exit 0\n'
        "fi\n"
        "echo \"[ERROR] 2026/11/25 could not read secret '$3': item not found\" >&2\n"
        "exit 1\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    secrets.clear_cache()
    yield log
    secrets.clear_cache()


def test_reference_forms():
    assert str(parse_secret_ref("env:OPENAI_API_KEY")) == "env:OPENAI_API_KEY"
    assert parse_secret_ref(REF).scheme == "op"
    assert parse_secret_ref("prefect-secret://anthropic-key").target == "anthropic-key"
    with pytest.raises(ValueError, match="plain-text secrets are not allowed"):
        parse_secret_ref("sk-live-123")


def test_op_reference_is_read_once_and_cached(fake_op: Path):
    assert resolve(REF).get_secret_value() == VALUE
    assert resolve(REF).get_secret_value() == VALUE
    assert fake_op.read_text().splitlines() == [f"read --no-newline {REF}"]


def test_op_failure_names_the_reference_and_the_fix(fake_op: Path):
    with pytest.raises(SecretError) as failure:
        resolve("op://Private/Missing/credential")
    assert str(failure.value).startswith(
        "op://Private/Missing/credential: 'op read' failed (exit 1: [ERROR] 2026/11/25 could not read secret"
    )
    assert "check the vault/item/field names" in str(failure.value)


def test_missing_op_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("PATH", str(tmp_path))
    secrets.clear_cache()
    with pytest.raises(SecretError, match=r"^op://v/i/f: the 1Password CLI 'op' is not on PATH; install it"):
        resolve("op://v/i/f")


def test_missing_env_names_the_variable_not_a_value():
    with pytest.raises(
        SecretError, match=r"^env:TENURE_TEST_NOPE: TENURE_TEST_NOPE is not set in the environment$"
    ):
        resolve("env:TENURE_TEST_NOPE")


def test_resolved_value_is_redacted_from_every_log_record(fake_op: Path, caplog: pytest.LogCaptureFixture):
    value = resolve(REF).get_secret_value()
    caplog.set_level(logging.DEBUG)
    logging.getLogger("some.library").warning("sending header x-api-key: %s", value)
    try:
        raise RuntimeError(f"upstream echoed {value}")
    except RuntimeError:
        logging.getLogger("other").exception("request failed")
    assert VALUE not in caplog.text
    assert f"x-api-key: {REDACTED}" in caplog.text
    assert f"upstream echoed {REDACTED}" in caplog.text


async def test_value_never_reaches_config_repr_logs_or_errors(
    fake_op: Path, anthropic_server, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)  # the SDKs and httpx log requests at debug level
    config = parse_config(
        {
            "providers": {"anthropic": {"base_url": anthropic_server.url, "api_key": REF}},
            "retry": {"retries": 0},
        }
    )
    anthropic_server.push(error(400, "bad request", error_type="invalid_request_error"))

    with pytest.raises(CallFailed) as failure:
        await call("hi", config=config, home=tmp_path, target="anthropic:claude-opus-4-6")

    sent = anthropic_server.completion_requests[0].headers
    assert VALUE in (sent.get("x-api-key", ""), sent.get("authorization", "").removeprefix("Bearer "))
    assert VALUE not in repr(config) and VALUE not in str(config.model_dump())
    assert VALUE not in str(failure.value) and VALUE not in repr(failure.value.result)
    assert VALUE not in caplog.text
    assert VALUE not in repr(resolve(REF))


def test_prefect_secret_block_reference(prefect_server):
    from prefect.blocks.system import Secret
    from pydantic import Secret as PydanticSecret

    # the str wrapped as Secret's validator wraps it; its annotation admits only the wrapped forms
    Secret(value=PydanticSecret[str]("sk-from-prefect-block")).save("anthropic-key", overwrite=True)
    secrets.clear_cache()
    assert resolve("prefect-secret://anthropic-key").get_secret_value() == "sk-from-prefect-block"
    with pytest.raises(SecretError) as failure:
        resolve("prefect-secret://no-such-block")
    assert str(failure.value).startswith(
        "prefect-secret://no-such-block: could not load the Prefect Secret block 'no-such-block'"
    )
    assert "prefect block create secret" in str(failure.value)
