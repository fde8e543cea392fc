"""Headless Chromium, as the tests drive it: Debian's ``chromium`` (``.ci/run`` installs it), a fresh
profile per load, the page's own requests allowed to settle before the DOM is dumped or the screenshot
taken."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

__all__ = ["browse", "chromium"]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    pytest.fail("no chromium on PATH: `apt-get install chromium` (.ci/run installs it)")


def browse(url: str, *action: str, profile: Path, size: str = "1400,1000") -> str:
    """Load ``url`` in headless Chromium until the page's own requests settle, then run ``action``
    (``--dump-dom`` or ``--screenshot=…``); returns stdout (the rendered DOM for ``--dump-dom``)."""
    shutil.rmtree(profile, ignore_errors=True)  # a fresh profile: nothing cached from a former load
    argv = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        f"--user-data-dir={profile}", f"--window-size={size}", "--run-all-compositor-stages-before-draw",
        "--virtual-time-budget=30000", *action, url,
    ]  # fmt: skip
    run = subprocess.run(argv, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout
