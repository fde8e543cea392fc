"""Benchmark: how long ``tenure up`` takes on a fresh home, against starting a bare Prefect server.

Run from the repository root::

    .venv/bin/python bench/up.py [--rounds N] [--markdown]

Each round uses a fresh ``TENURE_HOME`` and a free port, and times, as a user runs them:

* baseline: ``prefect server start`` on an empty ``PREFECT_HOME`` until ``/api/health`` answers (the
  least any ``up`` must wait for);
* ``tenure up``: server, work pool, the 8 deployments and a process worker, until the worker's first
  heartbeat (the command returns then);
* ``tenure up`` again (it finds both running and changes nothing);
* ``tenure down`` (stops the worker and the server, and everything they started).

The issue's target for a fresh ``tenure up`` is 60 s; no row fails the run on a miss.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/up.py` puts bench/, not the repo root, on sys.path
    sys.path.insert(0, str(ROOT))

from bench.report import Row, context_line, mark, positive, show  # noqa: E402
from tests.e2e.stack import free_port  # noqa: E402

LIBRARIES = ("prefect",)
BIN = Path(sys.executable).parent
TARGET_S = 60.0


def _timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    if run.returncode:
        raise SystemExit(f"{' '.join(argv)} failed:\n{run.stdout}\n{run.stderr}")
    return time.perf_counter() - started


def _bare_server(tmp: Path, env: dict[str, str]) -> float:
    """Seconds from ``prefect server start`` to a healthy API, on an empty ``PREFECT_HOME``."""
    from tenure.deployments.api import answers

    port, home = free_port(), tmp / "bare-prefect"
    home.mkdir()
    started = time.perf_counter()
    server = subprocess.Popen(
        [
            str(BIN / "prefect"),
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--analytics-off",
        ],
        env={**env, "PREFECT_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not answers(f"http://127.0.0.1:{port}/api", timeout=1.0):
            if server.poll() is not None or time.perf_counter() - started > 300:
                raise SystemExit("the bare Prefect server did not come up")
            time.sleep(0.1)
        return time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=60)


def _round(tmp: Path, env: dict[str, str]) -> dict[str, float]:
    home = tmp / "home"
    home.mkdir()
    (home / "tenure.toml").write_text(f"[prefect]\nport = {free_port()}\n")
    mine = {**env, "TENURE_HOME": str(home), "TENURE_CONFIG": str(home / "tenure.toml")}
    tenure = str(BIN / "tenure")
    times = {"bare": _bare_server(tmp, env)}
    try:
        times["up"] = _timed([tenure, "up"], mine)
        times["again"] = _timed([tenure, "up"], mine)
    finally:
        times["down"] = _timed([tenure, "down"], mine)
    return times


def _seconds(samples: list[float]) -> str:
    return f"{statistics.median(samples):.1f} s median · {max(samples):.1f} s max"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=positive, default=3, help="fresh homes to time (default 3)")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = parser.parse_args()

    started, load = time.perf_counter(), os.getloadavg()[0]
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    for name in ("PREFECT_API_URL", "TENURE_CONFIG"):
        env.pop(name, None)
    rounds = []
    for n in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="tenure-bench-up-") as tmp:
            rounds.append(_round(Path(tmp), env))
        print(f"round {n + 1}/{args.rounds}: " + ", ".join(f"{k} {v:.1f} s" for k, v in rounds[-1].items()))
    col = {key: [r[key] for r in rounds] for key in rounds[0]}
    bare = statistics.median(col["bare"])
    target = f"≤ {TARGET_S:.0f} s {mark(max(col['up']) <= TARGET_S)}"
    rows = [
        Row("prefect server start, until healthy (baseline)", _seconds(col["bare"]), "",
            f"{args.rounds} fresh PREFECT_HOMEs"),
        Row("tenure up, fresh home", _seconds(col["up"]), target,
            f"server + pool + 8 deployments + worker heartbeat; "
            f"+{statistics.median(col['up']) - bare:.1f} s over the bare server"),
        Row("tenure up, already running", _seconds(col["again"]), "", "changes nothing, says so"),
        Row("tenure down", _seconds(col["down"]), "", "worker, server and their children stopped"),
    ]  # fmt: skip
    context = context_line(load, LIBRARIES) + f" · total bench time {time.perf_counter() - started:.0f} s"
    show(rows, context, "tenure up on a fresh home vs a bare Prefect server", args.markdown)


if __name__ == "__main__":
    main()
