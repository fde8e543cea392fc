"""Shared fixtures: an isolated TENURE_HOME, loopback providers, and a config builder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tenure.config import TenureConfig, parse_config
from tests.fakes.llm_server import FakeLLMServer

KEYS = {"ANTHROPIC_API_KEY": "sk-ant-test-0000", "OPENAI_API_KEY": "sk-openai-test-0000"}


SERVERS = {"prefect_server", "anthropic_server", "openai_server", "model_home"}
"""Fixtures that start a real server or need the embedded model: a test using one is marked slow."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``-m "not slow"`` skips every test that starts a server or loads a model, marked or not."""
    for item in items:
        if SERVERS & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def model_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One home per session for the embedded model's GGUF (assembling it takes a second and 250 MB)."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="session")
def exported_embedder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedders' ONNX export, made once per session: each fresh home would spend ~6 s making it."""
    from tenure.memory import onnx_embed

    home = tmp_path_factory.mktemp("export-home")
    onnx_embed.load(home, "onnx-int8")
    return onnx_embed.model_dir(home)


@pytest.fixture
def shared_export(isolated: None, exported_embedder: Path) -> None:
    """This test's home links to the session's export instead of making its own (tests of the export
    itself use homes of their own)."""
    from tenure.config import Env
    from tenure.memory import onnx_embed

    target = onnx_embed.model_dir(Env().home)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(exported_embedder)


@pytest.fixture(autouse=True)
def isolated(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No test sees the developer's ~/.tenure, real keys, or another test's cooldowns (they live in the
    home: ``tenure.models.health``)."""
    monkeypatch.setenv("TENURE_HOME", str(tmp_path / "tenure-home"))
    monkeypatch.delenv("TENURE_CONFIG", raising=False)
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OLLAMA_BASE_URL", "PREFECT_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # the `tenure` subprocesses of the tests share one Prefect home (its database migrated once), as they
    # shared ~/.prefect before the command kept Prefect's state in each home
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path_factory.getbasetemp() / "prefect-home"))


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One real (temporary, SQLite-backed) Prefect server for the session; starting one takes ~20 s."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    return KEYS


@pytest.fixture
def anthropic_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def openai_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


def config_for(
    anthropic: FakeLLMServer | None = None,
    openai: FakeLLMServer | None = None,
    ollama: FakeLLMServer | None = None,
    timeout: float = 5.0,
    **extra: Any,
) -> TenureConfig:
    """A config pointing the providers at loopback fakes, with fast retries unless overridden."""
    providers: dict[str, Any] = {}
    if anthropic:
        providers["anthropic"] = {"base_url": anthropic.url, "timeout": timeout}
    if openai:
        providers["openai"] = {"base_url": f"{openai.url}/v1", "timeout": timeout}
    if ollama:
        providers["ollama"] = {"base_url": ollama.url, "timeout": timeout}
    data: dict[str, Any] = {"providers": providers, "retry": {"backoff_base": 0.01, "backoff_max": 0.05}}
    for key, value in extra.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return parse_config(data)
