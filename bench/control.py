"""Benchmarks for tenure's control plane: the routed caller's latency, shadow throughput, and the scoreboard.

Run from the repository root::

    .venv/bin/python bench/control.py [--calls N] [--shadow-tasks N] [--score-rows N] [--markdown]

Measured in one run, each against a baseline taken in the same run:

* ``route_task`` latency (ground-truth answer + one fsynced Parquet segment) against ``tenure.models.call``
  making the same structured-output request, and against the raw ``anthropic`` SDK, on a loopback fake;
* shadow evaluations per minute through the real ``shadow_eval`` flow on a temporary Prefect server, with
  an instant candidate (loopback fake Ollama) and the deterministic judge, against the same calls and
  judging done directly (``tenure.control.shadow.shadow``) without Prefect;
* the ``tenure scores`` query over 1,000,000 generated score rows in 100 segments (and after compaction),
  against the same aggregation read straight from the Parquet files, without the views.

Nothing here fails on a missed target: the table says whether it was met.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import astuple
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tenure.config import TenureConfig
    from tenure.control.task import Task

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/control.py` puts bench/, not the repo root, on sys.path
    sys.path.insert(0, str(ROOT))

LIBRARIES = ("pydantic-ai", "anthropic", "prefect", "duckdb", "pyarrow")

from bench.report import (  # noqa: E402
    BLOCK,
    WARMUP_CALLS,
    Row,
    context_line,
    mark,
    measure,
    p90,
    positive,
    show,
)

GROUND_TRUTH = "anthropic:claude-opus-4-6"
CANDIDATE = "ollama:qwen2.5:latest"
ROUTE_OVERHEAD_TARGET_MS = 20.0  # route_task beyond the same ground-truth call() (p50)
SHADOW_RATE_TARGET = 300.0  # shadow evaluations per minute through the flows
SCORES_QUERY_TARGET_MS = 300.0  # `tenure scores` over 1M score rows
SHADOW_BATCH = 100
SHADOW_CONCURRENCY = 4  # tenure.tasks.shadowing.CONCURRENCY: the flow's answer_batch keeps 4 calls in flight
SEGMENTS = 100
QUERY_RUNS = 5
CLASSIFY_INPUT = {"text": "Invoice #4471 due Friday", "labels": ["billing", "spam"]}
LABEL = {"label": "billing"}

PLAIN_SQL = (
    "SELECT candidate, task_type, judge, count(*), avg(score), stddev_samp(score), max(ts) "
    "FROM read_parquet('{glob}') GROUP BY ALL"
)


def _ms(samples: list[float]) -> str:
    return f"p50 {statistics.median(samples):.2f} ms · p90 {p90(samples):.2f} ms"


# -- (a) route_task against the same ground-truth call ------------------------------------------------------


async def routing_benchmark(calls: int, home: Path) -> list[Row]:
    """``route_task`` versus ``call()`` with the same request, versus the raw SDK, on a loopback fake."""
    import anthropic

    from tenure.config import parse_config
    from tenure.control.routing import route_task
    from tenure.control.task import parse_task
    from tenure.control.task_types.classify import ClassifyOutput
    from tenure.models import call
    from tenure.store import ScoreLog
    from tests.fakes.llm_server import FakeLLMServer, tool

    task = parse_task({"id": "b", "type": "classify", "input": CLASSIFY_INPUT})
    system, user = task.kind.chat(task.data())
    store = ScoreLog(home / "store")

    with FakeLLMServer(default=tool("final_result", LABEL)) as server:
        config = parse_config(
            {"providers": {"anthropic": {"base_url": server.url}}, "chains": {"default": [GROUND_TRUTH]}}
        )
        sdk = anthropic.AsyncAnthropic(base_url=server.url, max_retries=0)
        schema = ClassifyOutput.model_json_schema()
        tools: Any = [{"name": "final_result", "description": "The final response", "input_schema": schema}]

        async def raw_sdk() -> None:
            reply = await sdk.messages.create(
                model="claude-opus-4-6", max_tokens=4096, system=system, tools=tools,
                tool_choice={"type": "any"}, messages=[{"role": "user", "content": user}],
            )  # fmt: skip
            assert reply.content[0].type == "tool_use" and reply.content[0].input == LABEL

        async def direct_call() -> None:
            result = await call(
                user, config=config, home=home, target=GROUND_TRUTH, system=system, output_type=ClassifyOutput
            )
            assert result.output == ClassifyOutput(**LABEL) and result.served_by == GROUND_TRUTH

        async def routed() -> None:
            got = await route_task(task, config, home)
            assert got.output == LABEL["label"] and got.served_by == GROUND_TRUTH

        times = await measure({"sdk": raw_sdk, "call": direct_call, "route": routed}, calls)
        await sdk.close()
        requests = len(server.completion_requests)

    archived = store.count("runs")
    expected_archived = calls + WARMUP_CALLS
    sdk_t, call_t, route_t = times["sdk"], times["call"], times["route"]
    overhead = statistics.median(route_t) - statistics.median(call_t)
    method = f"{calls} timed calls each after {WARMUP_CALLS} warm-up, blocks of {BLOCK} interleaved"
    return [
        Row(
            "(a) Raw SDK call (baseline)",
            _ms(sdk_t),
            notes=f"anthropic.AsyncAnthropic(max_retries=0).messages.create with the final_result tool "
            f"(tool_choice any) on the loopback fake, which answers with the tool call; {method}",
        ),
        Row(
            "(a) call() ground truth (baseline)",
            _ms(call_t),
            notes=f"tenure.models.call(target={GROUND_TRUTH}, system, output_type=ClassifyOutput) with the "
            "classify task's chat prompt: the same request route_task makes, without routing or archiving",
        ),
        Row(
            "(a) route_task",
            _ms(route_t),
            notes=f"tenure.control.routing.route_task on a classify task, chain default = [{GROUND_TRUTH}]: "
            "the answer plus one zstd Parquet segment appended to runs/ (file and directory fsynced); "
            f"{archived} run segments archived (expected {expected_archived}); fake saw {requests} requests",
        ),
        Row(
            "(a) route_task overhead (route − call)",
            f"p50 {overhead:+.2f} ms · p90 {p90(route_t) - p90(call_t):+.2f} ms · "
            f"×{statistics.median(route_t) / statistics.median(call_t):.2f}",
            f"{mark(overhead <= ROUTE_OVERHEAD_TARGET_MS)} ≤ {ROUTE_OVERHEAD_TARGET_MS:g} ms p50",
            f"difference of p50s (and p90s); × is the p50 ratio; route − raw SDK p50 "
            f"{statistics.median(route_t) - statistics.median(sdk_t):+.2f} ms",
        ),
    ]


# -- (b) shadow evaluations per minute, through the flows and directly ---------------------------------------


def _classify_tasks(n: int, prefix: str) -> list[Task]:
    from tenure.control.task import parse_task

    return [
        parse_task(
            {
                "id": f"{prefix}-{i}",
                "type": "classify",
                "input": {**CLASSIFY_INPUT, "text": f"Invoice #{4471 + i} due Friday"},
                "reference": "billing",
            }
        )
        for i in range(n)
    ]


async def _direct_batch(batch: list[Task], config: TenureConfig, home: Path) -> int:
    """What one ``shadow_eval`` flow run does, without Prefect: same calls, judge, concurrency and appends."""
    from tenure.control.shadow import reference_runs, shadow
    from tenure.store import RunRow, ScoreLog, ScoreRow

    log = ScoreLog(home / "store")
    limit = asyncio.Semaphore(SHADOW_CONCURRENCY)
    references = reference_runs(batch, "bench")

    async def one(task: Task, gt_run_id: str) -> tuple[RunRow, list[ScoreRow]]:
        async with limit:
            return await shadow(task, gt_run_id, CANDIDATE, config, home, source="bench", use_llm=False)

    results = await asyncio.gather(*(one(t, r.run_id) for t, r in zip(batch, references, strict=True)))
    scores = [s for _, rows in results for s in rows]
    log.append("runs", references)
    log.append("runs", [run for run, _ in results])
    log.append("scores", scores)
    return sum(s.status == "ok" and s.score == 1.0 for s in scores)


async def _shadow_runs(tasks: int, home: Path, config_path: Path, fake_url: str) -> dict[str, Any]:
    """Alternate flow batches and direct batches (after one warm-up of each); time every batch."""
    from tenure.config import load_config
    from tenure.flows.shadow_eval import shadow_eval

    config_path.write_text(
        f"""[providers.ollama]
base_url = "{fake_url}"
[retry]
retries = 0
[task_types.classify]
candidates = ["{CANDIDATE}"]
"""
    )
    os.environ["TENURE_CONFIG"] = str(config_path)
    config = load_config()
    batches = max(1, tasks // SHADOW_BATCH)
    flow_s: list[float] = []
    direct_s: list[float] = []
    flow_good = direct_good = 0

    await shadow_eval("classify", tasks=_classify_tasks(10, "warm"), source="warmup")
    await _direct_batch(_classify_tasks(10, "warm-direct"), config, home)
    for b in range(batches):
        flow_batch = _classify_tasks(SHADOW_BATCH, f"flow{b}")
        direct_batch = _classify_tasks(SHADOW_BATCH, f"direct{b}")
        for which in ("flow", "direct") if b % 2 == 0 else ("direct", "flow"):
            started = time.perf_counter()
            if which == "flow":
                summary = await shadow_eval("classify", tasks=flow_batch, source="golden")
                flow_s.append(time.perf_counter() - started)
                got = summary.get(CANDIDATE, {})
                flow_good += int(got.get("scored", 0) * got.get("mean", 0.0))
            else:
                direct_good += await _direct_batch(direct_batch, config, home)
                direct_s.append(time.perf_counter() - started)
    return {
        "batches": batches,
        "flow_s": flow_s,
        "direct_s": direct_s,
        "flow_good": flow_good,
        "direct_good": direct_good,
    }


def shadow_benchmark(tasks: int, home: Path) -> list[Row]:
    """Shadow evaluations per minute through ``shadow_eval`` on a real Prefect server, and directly."""
    from prefect.testing.utilities import prefect_test_harness

    from tenure.store import ScoreLog
    from tests.fakes.llm_server import FakeLLMServer, tool

    started = time.perf_counter()
    with prefect_test_harness(server_startup_timeout=120):
        server_start_s = time.perf_counter() - started
        with FakeLLMServer(default=tool("final_result", LABEL)) as fake:
            result = asyncio.run(_shadow_runs(tasks, home, home / "tenure.toml", fake.url))
            requests = len(fake.completion_requests)
    os.environ.pop("TENURE_CONFIG", None)

    batches = result["batches"]
    n = batches * SHADOW_BATCH
    flow_rate = n / (sum(result["flow_s"]) / 60)
    direct_rate = n / (sum(result["direct_s"]) / 60)
    per_flow_run_s = (sum(result["flow_s"]) - sum(result["direct_s"])) / batches
    logged = ScoreLog(home / "store").query("select count(*) from scores where source = 'golden'")[1][0][0]
    expected_requests = 2 * (n + 10)
    batch_s = " / ".join(f"{s:.2f}" for s in result["flow_s"])
    return [
        Row(
            "(b) Shadow evals, direct (baseline)",
            f"{direct_rate:,.0f} evals/min",
            notes=f"{n} classify tasks in {batches} batches of {SHADOW_BATCH}: "
            f"tenure.control.shadow.shadow(…, use_llm=False) under asyncio.Semaphore({SHADOW_CONCURRENCY}), "
            f"then per batch the flow's three appends (reference runs, candidate runs, scores); "
            f"{sum(result['direct_s']):.2f} s in all; {result['direct_good']}/{n} scored 1.0",
        ),
        Row(
            "(b) Shadow evals, shadow_eval flow",
            f"{flow_rate:,.0f} evals/min",
            f"{mark(flow_rate >= SHADOW_RATE_TARGET)} ≥ {SHADOW_RATE_TARGET:g}/min",
            f"{batches} real flow runs (answer_batch, judge_batch, 3 append_rows task runs each) of "
            f"{SHADOW_BATCH} tasks, candidate {CANDIDATE} on a loopback fake answering at once, label_match "
            f"judge; batches alternate with the direct ones after 1 warm-up of 10 each; seconds per flow run "
            f"{batch_s}; {result['flow_good']}/{n} scored 1.0; score log holds {logged} scores with "
            f"source='golden' (expected {n}); fake saw {requests} requests (expected {expected_requests}); "
            f"the temporary Prefect server took {server_start_s:.0f} s to start (not counted)",
        ),
        Row(
            "(b) Prefect overhead (flow vs direct)",
            f"×{direct_rate / flow_rate:.2f} slower · {per_flow_run_s:+.2f} s per flow run",
            notes=f"direct rate / flow rate, and (flow time − direct time) / {batches} flow runs: the cost "
            "of the flow run, its 5 task runs, parameter validation and the API round trips to the server",
        ),
    ]


# -- (c) the `tenure scores` query over 1M score rows ------------------------------------------------------


def generate_scores(root: Path, rows: int, segments: int, seed: int = 7) -> None:
    """``rows`` score rows in ``segments`` Parquet files shaped like ``ScoreLog.append``'s (one ts each)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tenure.control import task_types
    from tenure.control.judges import PROMPT_VERSION
    from tenure.store import SCHEMAS

    rng = np.random.default_rng(seed)
    candidates = np.array(
        ["ollama:qwen2.5:latest", "ollama:llama3.2:3b", "ollama:phi4-mini:latest", "local:gemma-3-270m",
         "openai:gpt-4.1-mini"]
    )  # fmt: skip
    exact = {"classify": "label_match", "extract": "field_f1", "format": "format_structure",
             "code_transform": "code_tests"}  # fmt: skip
    types = np.array(task_types.names())
    directory = root / "scores"
    directory.mkdir(parents=True, exist_ok=True)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    per_segment = rows // segments
    for seg in range(segments):
        n = per_segment + (rows - per_segment * segments if seg == segments - 1 else 0)
        ts = start + timedelta(hours=7 * seg, microseconds=int(rng.integers(1_000_000)))
        raw = rng.bytes(48 * n)
        hexes = [raw[i : i + 16].hex() for i in range(0, 48 * n, 16)]
        task_type = types[rng.integers(len(types), size=n)]
        llm = rng.random(n) < 0.5
        # two judges per task type: its deterministic judge (or the heuristic one) and the LLM judge
        offline = np.array([exact.get(t, "heuristic:minilm") for t in task_type])
        judge = np.where(llm, "llm:anthropic:claude-opus-4-6", offline)
        kind = np.where(llm, "llm", np.where(offline == "heuristic:minilm", "heuristic", "deterministic"))
        failed = llm & (rng.random(n) < 0.02)  # an LLM judge that gave no verdict
        score = rng.random(n)
        table = pa.table(
            {
                "score_id": hexes[0::3],
                "ts": pa.array([ts] * n, type=pa.timestamp("us", tz="UTC")),
                "run_id": hexes[1::3],
                "gt_run_id": hexes[2::3],
                "task_id": [f"{t}-{i}" for t, i in zip(task_type, rng.integers(5000, size=n), strict=True)],
                "task_type": task_type,
                "candidate": candidates[rng.integers(len(candidates), size=n)],
                "judge": judge,
                "judge_kind": kind,
                "score": pa.array(score, mask=failed),
                "passed": pa.array(score >= 0.8, mask=failed),
                "reason": np.where(failed, "JudgeFailure: no valid verdict", "generated"),
                "status": np.where(failed, "judge_failed", "ok"),
                "source": np.full(n, "bench"),
                "cost_usd": np.where(llm, 0.002, 0.0),
                "ground_truth": np.full(n, "anthropic:claude-opus-4-6"),
                "prompt_version": pa.array(np.where(llm, PROMPT_VERSION, ""), mask=~llm),
                "excluded": pa.nulls(n, pa.string()),
            },
            schema=SCHEMAS["scores"],
        )
        name = f"{ts:%Y%m%dT%H%M%S%f}-bench-{seg:08x}.parquet"
        pq.write_table(table, directory / name, compression="zstd")


def _rounded(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows with floats rounded: parallel aggregation may sum in a different order each run."""
    return sorted(tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in rows)


def _time_queries(variants: dict[str, Callable[[], Any]], runs: int) -> dict[str, list[float]]:
    """Milliseconds of each variant, ``runs`` times, interleaved (after one untimed run of each)."""
    results = {name: _rounded(fn()) for name, fn in variants.items()}
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(runs):
        for name, fn in variants.items():
            started = time.perf_counter()
            got = fn()
            times[name].append((time.perf_counter() - started) * 1000)
            assert _rounded(got) == results[name], f"{name} changed between runs"
    return times


def _plain_query(root: Path) -> list[tuple[Any, ...]]:
    """The baseline: the scoreboard's aggregation straight from the files, no views, no de-duplication."""
    import duckdb

    con = duckdb.connect(":memory:")
    return con.execute(PLAIN_SQL.format(glob=_glob(root))).fetchall()


def _glob(root: Path) -> str:
    return str(root / "scores" / "*.parquet").replace("'", "''")


def scores_benchmark(rows: int, root: Path) -> list[Row]:
    """The CLI's scoreboard over ``rows`` generated scores versus a plain aggregation, compacted too."""
    from tenure.config import TenureConfig
    from tenure.control.scoreboard import scoreboard
    from tenure.store import ScoreLog

    log, config = ScoreLog(root), TenureConfig()
    started = time.perf_counter()
    generate_scores(root, rows, SEGMENTS)
    generate_s = time.perf_counter() - started
    size_mb = sum(p.stat().st_size for p in log.segments("scores")) / 1e6
    variants: dict[str, Callable[[], Any]] = {
        "scoreboard": lambda: [astuple(r) for r in scoreboard(log, config)],
        "plain": lambda: _plain_query(root),
    }

    before = _time_queries(variants, QUERY_RUNS)
    board = scoreboard(log, config)
    total = sum(r.n for r in board)
    failures = sum({(r.model, r.task_type): r.judge_failures for r in board}.values())
    started = time.perf_counter()
    report = log.compact("scores")
    compact_s = time.perf_counter() - started
    after = _time_queries(variants, QUERY_RUNS)

    def row(label: str, times: list[float], base: list[float], note: str) -> Row:
        med, base_med = statistics.median(times), statistics.median(base)
        met = med <= SCORES_QUERY_TARGET_MS
        return Row(
            label,
            f"median {med:.0f} ms · min {min(times):.0f} / max {max(times):.0f} ms",
            f"{mark(met)} ≤ {SCORES_QUERY_TARGET_MS:g} ms",
            f"{note}; same-run baseline (plain GROUP BY ALL straight from read_parquet: no views, no status "
            f"filter, no judge-failure join) median {base_med:.0f} ms, scoreboard ×{med / base_med:.1f}",
        )

    method = (
        f"median of {QUERY_RUNS} runs after 1 untimed, each opening one connection (views created) that "
        "the scoreboard's queries share"
    )
    return [
        row(
            f"(c) tenure scores, {rows:,} rows / {SEGMENTS} segments",
            before["scoreboard"],
            before["plain"],
            f"tenure.control.scoreboard.scoreboard(), what `tenure scores` runs; {method}; "
            f"{len(board)} rows, n sums to {total:,}, {failures:,} judge failures; {size_mb:.0f} MB zstd, "
            f"generated with pyarrow in {generate_s:.1f} s",
        ),
        row(
            "(c) tenure scores, after compact",
            after["scoreboard"],
            after["plain"],
            f"same query after ScoreLog.compact('scores') ({report.segments_before} → "
            f"{report.segments_after} segment, {report.rows:,} rows, took {compact_s:.1f} s); {method}",
        ),
    ]


# -- output -------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--calls", type=positive, default=200, help="timed calls per variant in (a)")
    parser.add_argument(
        "--shadow-tasks",
        type=positive,
        default=600,
        help=f"tasks per path in (b), in batches of {SHADOW_BATCH}",
    )
    parser.add_argument("--score-rows", type=positive, default=1_000_000, help="generated score rows in (c)")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = parser.parse_args()

    started, load = time.perf_counter(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="tenure-bench-") as tmp:
        home = Path(tmp) / "home"
        os.environ["TENURE_HOME"] = str(home)  # before tenure.config is imported: nothing sees ~/.tenure
        os.environ["ANTHROPIC_API_KEY"] = "bench-dummy-key"
        os.environ.pop("TENURE_CONFIG", None)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        # The temporary server's telemetry heartbeat races its own SQLite migrations ("database is locked").
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        home.mkdir()
        rows = asyncio.run(routing_benchmark(args.calls, Path(tmp) / "route-home"))
        rows += shadow_benchmark(args.shadow_tasks, home)
        rows += scores_benchmark(args.score_rows, Path(tmp) / "scores-store")
    elapsed = time.perf_counter() - started
    context = (
        context_line(load, LIBRARIES)
        + f" · load avg at end {os.getloadavg()[0]:.2f} · total bench time {elapsed:.0f} s"
    )
    show(rows, context, "tenure control-plane benchmarks", args.markdown)


if __name__ == "__main__":
    main()
