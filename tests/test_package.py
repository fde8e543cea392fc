"""The installable package: a wheel built from this checkout, installed alone into an empty folder, works
from a directory outside the checkout (shipped data inside the package, found by importlib.resources)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, tenure
from prefect.flows import load_flow_from_entrypoint
from tenure.agents.workspace import TEMPLATES
from tenure.analysis import notebook_path
from tenure.deployments.deploy import specs
from tenure.control.golden import load_golden
from tenure.models.pricing import DEFAULT_PRICING, load_pricing
from tenure.resources import data_path
print(json.dumps({
    "package": tenure.__file__,
    "golden": len(load_golden()),
    "pricing": len(load_pricing(DEFAULT_PRICING).prices),
    "personas": sorted(p.name for p in TEMPLATES.iterdir()),
    "vault_notes": len(list(data_path("vault").rglob("*.md"))),
    "deployments": {s.name: load_flow_from_entrypoint(s.entrypoint).name for s in specs()},
    "flow_files": sorted({load_flow_from_entrypoint(s.entrypoint).fn.__code__.co_filename for s in specs()}),
    "notebook": str(notebook_path()),
}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip wheel`` of the checkout, then ``pip install --no-deps --target`` of that wheel."""
    tmp = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    [wheel] = tmp.glob("tenure-*.whl")
    site = tmp / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    return site


def outside(site: Path, home: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "TENURE_CONFIG"}
    env.update(PYTHONPATH=str(site), TENURE_HOME=str(home), COLUMNS="200", HF_HUB_OFFLINE="1")
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


def test_the_installed_wheel_loads_its_data_and_runs_a_golden_eval_outside_the_checkout(
    installed: Path, model_home: Path, tmp_path: Path
):
    elsewhere, home = tmp_path / "elsewhere", tmp_path / "home"
    elsewhere.mkdir()
    (home / "models").mkdir(parents=True)
    for gguf in (model_home / "models").glob("*.gguf"):
        (home / "models" / gguf.name).symlink_to(gguf)

    probe = outside(installed, home, "-c", PROBE, cwd=elsewhere)
    assert probe.returncode == 0, probe.stderr[-2000:]
    found = json.loads(probe.stdout)
    assert Path(found["package"]).is_relative_to(installed)  # the wheel's copy, not the checkout
    assert found["golden"] >= 7 * 20 and found["pricing"] >= 5 and found["vault_notes"] == 100
    assert found["personas"] == ["archie", "kit", "liv", "loki", "sara"]
    # every deployment's entrypoint is a module path the installed package resolves: no checkout needed
    declared = yaml.safe_load((ROOT / "tenure" / "deployments" / "prefect.yaml").read_text())["deployments"]
    assert found["deployments"] == {d["name"]: d["name"] for d in declared} and len(declared) == 10
    assert all(Path(f).is_relative_to(installed) for f in found["flow_files"])
    # the scores notebook ships inside the package (`tenure notebook` opens a copy of it)
    notebook = Path(found["notebook"])
    assert (
        notebook.is_relative_to(installed)
        and notebook.read_bytes() == (ROOT / "notebooks" / "scores.ipynb").read_bytes()
    )

    golden = ("eval", "--golden", "--types", "classify", "--limit", "1")
    run = outside(installed, home, "-m", "tenure.cli", *golden, cwd=elsewhere)
    assert run.returncode == 0, run.stderr[-2000:]
    board = " ".join(run.stdout.split())
    assert "local:gemma-3-270m │ classify │ label_match" in board
    init = outside(installed, home, "-m", "tenure.cli", "agents", "init", cwd=elsewhere)
    assert init.returncode == 0, init.stderr[-2000:]
    shipped = (installed / "tenure" / "data" / "agents" / "kit" / "SOUL.md").read_text()
    assert (home / "workspace-kit" / "SOUL.md").read_text() == shipped
