"""The scores notebook: kept in git without outputs, run top to bottom by a real kernel on the sample log
(every figure drawn) and on an empty home (no error); ``tenure notebook`` opens it in JupyterLab on a
copy in the home, with ``TENURE_HOME`` set."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import nbformat
import pytest
from nbclient import NotebookClient

from tenure.analysis import notebook_path
from tests.analysis.sample_log import write_sample_log
from tests.e2e.stack import free_port

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "scores.ipynb"
FIGURES = 6


def test_the_notebook_is_kept_without_outputs():
    """Outputs are stripped in git: a notebook run and saved would fail here until cleared."""
    assert notebook_path() == NOTEBOOK
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert [(c["outputs"], c["execution_count"]) for c in code] == [([], None)] * len(code)
    assert sum("figure" in c["metadata"].get("tags", []) for c in code) == FIGURES
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"


def _run(home: Path, tmp_path: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    env = {**os.environ, "TENURE_HOME": str(home), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    where = {"metadata": {"path": str(tmp_path)}}  # the kernel's working directory
    NotebookClient(notebook, kernel_name="python3", timeout=120, resources=where).execute(env=env)
    return notebook


@pytest.mark.slow
@pytest.mark.parametrize("log", ["sample", "empty"])
def test_the_notebook_runs_top_to_bottom_and_draws_every_figure(log: str, tmp_path: Path):
    home = tmp_path / "home"
    if log == "sample":
        write_sample_log(home)
    notebook = _run(home, tmp_path)
    cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert [o for c in cells for o in c.outputs if o.output_type == "error"] == []
    drawn = [c for c in cells if "figure" in c.metadata.get("tags", [])]
    assert len(drawn) == FIGURES
    for cell in drawn:
        assert any("image/png" in o.get("data", {}) for o in cell.outputs), cell.source
    board = next(c for c in cells if "scores_table(board)" in c.source)
    html = "".join(o.get("data", {}).get("text/html", "") for o in board.outputs)
    assert ("ollama:qwen2.5:latest" in html) == (log == "sample")
    assert str(home) in "".join(o.get("data", {}).get("text/plain", "") for o in cells[0].outputs)


@pytest.mark.slow
def test_tenure_notebook_opens_jupyterlab_on_a_copy_in_the_home(tmp_path: Path):
    home, port, token = tmp_path / "home", free_port(), "t0ken"
    jupyter = {f"JUPYTER_{d}_DIR": str(tmp_path / d.lower()) for d in ("RUNTIME", "CONFIG", "DATA")}
    env = {**os.environ, "TENURE_HOME": str(home), **jupyter}
    argv = [sys.executable, "-m", "tenure.cli", "notebook", "--", "--no-browser", "--allow-root",
            f"--port={port}", f"--IdentityProvider.token={token}"]  # fmt: skip
    lab = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/api/contents/scores.ipynb"
        found = None
        for _ in range(120):
            assert lab.poll() is None, lab.stdout.read() if lab.stdout else ""
            try:
                found = httpx.get(url, headers={"Authorization": f"token {token}"}, timeout=2)
                if found.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        assert found is not None and found.status_code == 200
        served = [c["source"] for c in found.json()["content"]["cells"]]
        assert served == [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells]
        assert (home / "notebooks" / "scores.ipynb").read_bytes() == NOTEBOOK.read_bytes()
        environ = Path(f"/proc/{lab.pid}/environ").read_bytes().split(b"\0")
        assert f"TENURE_HOME={home}".encode() in environ  # what its kernels inherit
    finally:
        lab.send_signal(signal.SIGTERM)
        lab.wait(timeout=30)
