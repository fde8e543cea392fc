"""tenure as a user runs it for good: `tenure up` on a fresh home, a turn through the deployment on the
worker, `tenure status`, the Prefect UI in headless Chromium, `tenure down` leaving nothing behind.

Everything is real: the Prefect server and worker that `tenure up` starts, the embedded model, the UI
the server serves, Debian's chromium (`.ci/run` installs it). The screenshot of the runs page is kept in
``test-artifacts/e2e/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.browser import browse
from tests.e2e.stack import BIN, ours, run_ok
from tests.fakes.langfuse_server import FakeLangfuse

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"


def _rendered(url: str, text: str, profile: Path) -> str:
    """The rendered DOM of ``url`` once it shows ``text`` (a freshly started UI may need a second load)."""
    dom = ""
    for _ in range(3):
        dom = browse(url, "--dump-dom", profile=profile)
        if text in dom:
            break
    return dom


def test_up_runs_a_turn_on_the_worker_and_the_ui_lists_it(home: dict[str, str]):
    with FakeLangfuse() as langfuse:
        _up_turn_status_ui_down(home, langfuse)


def _up_turn_status_ui_down(home: dict[str, str], langfuse: FakeLangfuse) -> None:
    """The turn's run on the worker is traced to a loopback Langfuse, its flow-run span the trace's root."""
    config = Path(home["TENURE_CONFIG"])
    config.write_text(config.read_text() + f'[langfuse]\nhost = "{langfuse.url}"\n')
    home |= {"LANGFUSE_PUBLIC_KEY": "pk-lf-loopback", "LANGFUSE_SECRET_KEY": "sk-lf-loopback"}
    tenure, prefect = str(BIN / "tenure"), str(BIN / "prefect")
    began = time.monotonic()
    first = run_ok(home, tenure, "up")
    print(f"tenure up on a fresh home: {time.monotonic() - began:.1f} s")  # the figure BENCHMARKS.md cites
    assert "started server and worker" in first.stdout
    for deployment in ("agent_turn/agent_turn", "aggregate_confidence/aggregate_confidence"):
        assert deployment in first.stdout
    api = first.stdout.split("export PREFECT_API_URL=")[1].split()[0]
    ui = api.removesuffix("/api")

    again = run_ok(home, tenure, "up")
    assert "already running (server, worker): nothing changed" in again.stdout

    with_api = {**home, "PREFECT_API_URL": api}
    turn = run_ok(
        with_api, prefect, "deployment", "run", "agent_turn/agent_turn", "-p", "message=hello", "--watch"
    )
    assert "Completed" in turn.stdout
    run_ok(with_api, prefect, "deployment", "run", "aggregate_confidence/aggregate_confidence", "--watch")

    status = json.loads(run_ok(home, tenure, "status", "--json").stdout)
    turns = [r for r in status["recent"] if r["flow"] == "agent_turn"]
    assert [r["state"] for r in turns] == ["Completed"]
    assert {"agent:loki", "source:live"} <= set(turns[0]["tags"])
    assert [w["status"] for w in status["workers"]] == ["ONLINE"]
    run_id = turns[0]["url"].rsplit("/", 1)[1]
    assert langfuse.wait(lambda f: any(s.attributes.get("prefect.run.id") == run_id for s in f.spans))
    [root] = [s for s in langfuse.spans if s.attributes.get("prefect.run.id") == run_id]
    assert root.parent_id is None and root.name == turns[0]["name"]  # the worker's run is the trace's root
    assert root.attributes["tenure.flow_run.url"] == turns[0]["url"]
    inside = [s for s in langfuse.spans if s.trace_id == root.trace_id]
    assert any(s.scope == "pydantic-ai" and s.name.startswith("chat ") for s in inside), inside

    profile = Path(home["TENURE_HOME"]).parent / "chromium"
    runs_page = _rendered(f"{ui}/runs", turns[0]["name"], profile)
    assert turns[0]["name"] in runs_page  # the run's name, as the UI lists it
    assert "agent:loki" in runs_page
    assert "scoreboard" in _rendered(f"{ui}/artifacts", "scoreboard", profile)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "runs-page.png"
    screenshot.unlink(missing_ok=True)
    browse(f"{ui}/runs", f"--screenshot={screenshot}", profile=profile)
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    stopped = run_ok(home, tenure, "down")
    assert "stopped worker and server" in stopped.stdout
    assert ours(Path(home["TENURE_HOME"])) == []
