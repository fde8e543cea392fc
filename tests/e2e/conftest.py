"""The end-to-end tests' fixture: a fresh home with its own Prefect port, `tenure down` after each."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.stack import BIN, free_port, ours


@pytest.fixture
def home(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A fresh tenure home on a free port, as the environment of every command; `tenure down` after
    the test whatever happened, then nothing of ours may be left running."""
    home = tmp_path / "home"
    home.mkdir()
    config = home / "tenure.toml"
    config.write_text(f"[prefect]\nport = {free_port()}\n")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "PREFECT_API_URL"}
    env.update(TENURE_HOME=str(home), TENURE_CONFIG=str(config), COLUMNS="200", HF_HUB_OFFLINE="1")
    try:
        yield env
    finally:
        subprocess.run([str(BIN / "tenure"), "down"], env=env, capture_output=True, timeout=120)
    assert ours(home) == []
