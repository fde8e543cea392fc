"""``tenure report``: one self-contained HTML page with the scoreboard, the ledger and every figure as an
embedded PNG, which headless Chromium renders with the figures showing; without matplotlib (or Jupyter,
for ``tenure notebook``) the command says in one line how to install the extra."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from typer.testing import CliRunner

from tenure.cli import app
from tenure.config import Env
from tests.analysis.sample_log import write_sample_log
from tests.browser import browse

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "analysis"
FIGURES = 6
PALETTE = {"green": (0x2E, 0x7D, 0x32), "red": (0xC6, 0x28, 0x28), "blue": (0x15, 0x65, 0xC0)}
"""Colours only the figures draw with (``tenure.analysis.figures``): the tables use the terminal's."""


@pytest.fixture
def report(tmp_path: Path) -> str:
    """``tenure report`` over the sample log (in the test's TENURE_HOME)."""
    write_sample_log(Env().home)
    out = tmp_path / "report.html"
    run = CliRunner().invoke(app, ["report", "--out", str(out), "--since", "60d"])
    assert run.exit_code == 0, run.output
    assert f"wrote {out}" in " ".join(run.output.split())
    return out.read_text(encoding="utf-8")


def test_the_report_is_one_page_with_the_scoreboard_the_ledger_and_every_figure(report: str):
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', report)
    assert len(images) == FIGURES
    assert all(base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n" for data in images)
    assert "<h2>Scoreboard</h2>" in report and "<h2>Ledger</h2>" in report
    for shown in ("ollama:qwen2.5:latest", "promoted", "spend since", "per month", "what promotions saved"):
        assert shown in report
    assert not re.search(r"""(src|href)=["']https?:""", report)  # nothing fetched: it opens anywhere


def _missing(module: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """``tenure ARGV`` in a fresh interpreter where ``module`` cannot be imported."""
    probe = f"import sys; sys.modules[{module!r}] = None; from tenure.cli import app; app({list(argv)!r})"
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)


def test_without_the_extra_the_commands_say_how_to_install_it(tmp_path: Path):
    report = _missing("matplotlib", "report", "--out", str(tmp_path / "r.html"))
    notebook = _missing("jupyterlab", "notebook")
    for run, needs in ((report, "matplotlib"), (notebook, "jupyterlab")):
        assert run.returncode == 1, run.stderr
        [line] = run.stderr.strip().splitlines()
        assert needs in line and "pip install -e '.[analysis]'" in line
    assert not (tmp_path / "r.html").exists()


@pytest.mark.slow
def test_the_report_renders_in_headless_chromium_with_its_figures(report: str, tmp_path: Path):
    page = tmp_path / "report.html"
    page.write_text(report, encoding="utf-8")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "report.png"
    screenshot.unlink(missing_ok=True)
    browse(page.as_uri(), f"--screenshot={screenshot}", profile=tmp_path / "chromium", size="1200,7000")
    pixels = (imread(screenshot)[:, :, :3] * 255).round().astype(int)
    assert pixels.shape[:2] == (7000, 1200)
    assert (pixels < 250).any(axis=2).mean() > 0.05  # not a blank page
    for name, colour in PALETTE.items():
        near = (np.abs(pixels - np.array(colour)) <= 8).all(axis=2).sum()
        assert near > 2000, f"the figures' {name} is missing from the screenshot ({near} pixels)"
