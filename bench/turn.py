"""Benchmark: what running an agent turn as the ``agent_turn`` Prefect flow costs over a plain call.

Run from the repository root::

    .venv/bin/python bench/turn.py [--turns N] [--markdown]

The model is an instant scripted one (pydantic-ai ``FunctionModel`` inside tenure's chain link, handed
to the turn through ``run_turn(model=…)`` and ``agent_turn(model=…)``), so the numbers are orchestration
only. Each scenario runs the same turn two ways, interleaved in blocks:

* baseline: ``tenure.agents.turn.run_turn`` called directly, then the turn's row appended to the score
  log (the same work the flow does, minus Prefect);
* ``agent_turn`` as a flow on a real temporary Prefect server (SQLite), where every model request and
  tool call is a task run, plus the ``append_rows`` task.

Scenarios: a one-request answer; a turn with one tool call (two requests, one tool task); a turn that
dispatches to Kit (Kit's turn is a subflow); Archie reading the score log with ``query_scores`` and
saving a note with ``write_file`` (three requests, two tool tasks, two ``tool_calls`` rows; the bench's
config gives Archie ``write_file``). Each turn is the first of a new thread, each scenario starts from a
compacted score log, and each turn checks it made its tool calls. Nothing fails on a missed target:
there is none set; the table reports the ratio and the milliseconds Prefect adds per turn.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/turn.py` puts bench/, not the repo root, on sys.path
    sys.path.insert(0, str(ROOT))

from bench.report import Row, context_line, measure, p90, positive, show  # noqa: E402

LIBRARIES = ("pydantic-ai", "prefect", "pyarrow")


CONFIG = """
[agents.loki]
chain = "default"
[agents.kit]
[agents.archie]
tools = ["vault_search", "memory_read", "query_scores", "scoreboard", "write_file"]
"""
"""The shipped roles for Loki and Kit; Archie with write_file added, for the scores-and-file turn."""


def _script(messages, info):
    """'tool' → memory_read then answer; 'dispatch' → ask Kit (whose prompt is 'answer') then answer;
    'scores' → query_scores, then write_file, then answer."""
    from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart, UserPromptPart

    parts = [p for m in messages for p in m.parts]  # the thread's history, then this turn
    start = max(i for i, p in enumerate(parts) if isinstance(p, UserPromptPart))
    prompt = parts[start].content
    answered = sum(isinstance(p, ToolReturnPart) for p in parts[start:])  # in this turn only
    if not answered and prompt == "tool":
        return ModelResponse(parts=[ToolCallPart("memory_read", {})])
    if not answered and prompt == "dispatch":
        return ModelResponse(parts=[ToolCallPart("dispatch", {"agent": "kit", "request": "answer"})])
    if prompt == "scores" and answered == 0:
        sql = "SELECT candidate, count(*) AS n, avg(score) AS mean FROM scores GROUP BY 1"
        return ModelResponse(parts=[ToolCallPart("query_scores", {"sql": sql})])
    if prompt == "scores" and answered == 1:
        note = {"path": "content/scores.md", "content": "# Scores per candidate\n"}
        return ModelResponse(parts=[ToolCallPart("write_file", note)])
    return ModelResponse(parts=[TextPart(f"{prompt}: done")])


async def _scenarios(turns: int) -> list[Row]:
    from prefect.runtime import flow_run  # noqa: F401  (imported before timing starts)
    from pydantic_ai.models.function import FunctionModel

    from tenure.agents.turn import TurnResult, run_turn, turn_run
    from tenure.flows.agent_turn import agent_turn
    from tenure.models.chain import Link
    from tenure.runtime import runtime
    from tenure.store import new_id
    from tenure.store.rows import TABLE_NAMES

    rt = runtime()
    model = Link("anthropic:claude-sonnet-4-6", FunctionModel(_script), rt.config.retry)  # instant, scripted

    async def dispatcher(agent, request, thread, depth):
        result = await run_turn(
            agent,
            request,
            thread,
            config=rt.config,
            home=rt.home,
            depth=depth,
            dispatcher=dispatcher,
            model=model,
        )
        rt.log.append("runs", [turn_run(result, request, new_id())])
        return result

    rows: list[Row] = []
    scenarios = (
        ("answer", "loki", "hello", 0),
        ("one tool call", "loki", "tool", 1),
        ("dispatch to Kit", "loki", "dispatch", 1),
        ("query_scores + write_file", "archie", "scores", 2),
    )
    for label, agent, message, calls in scenarios:

        def check(result: TurnResult, calls: int = calls) -> None:
            assert result.outcome == "answered", result.message
            assert len(result.tool_calls) == calls and all(c.ok for c in result.tool_calls), result.tool_calls

        async def plain(agent: str = agent, message: str = message) -> None:
            result = await run_turn(
                agent, message, new_id(), config=rt.config, home=rt.home, dispatcher=dispatcher, model=model
            )
            rt.log.append("runs", [turn_run(result, message, new_id())])
            check(result)

        async def flow(agent: str = agent, message: str = message) -> None:
            check(await agent_turn(agent, message, new_id(), model=model))

        for table in TABLE_NAMES:  # each scenario starts from a compacted log, as after a nightly compaction
            rt.log.compact(table)

        times = await measure({"plain": plain, "flow": flow}, turns)
        p50_plain, p50_flow = statistics.median(times["plain"]), statistics.median(times["flow"])
        rows += [
            Row(
                f"{label}: plain run_turn (baseline)",
                f"{p50_plain:.1f} ms p50 · {p90(times['plain']):.1f} ms p90",
                notes=f"{turns} turns after 10 warm-up; includes the score-log append",
            ),
            Row(
                f"{label}: agent_turn flow",
                f"{p50_flow:.1f} ms p50 · {p90(times['flow']):.1f} ms p90",
                notes=f"×{p50_flow / p50_plain:.1f} the plain turn · +{p50_flow - p50_plain:.0f} ms per turn "
                "for the flow run, its task runs and the API round trips",
            ),
        ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--turns", type=positive, default=60, help="timed turns per variant and scenario")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = parser.parse_args()

    started, load = time.perf_counter(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="tenure-bench-") as tmp:
        home = Path(tmp) / "home"
        config = Path(tmp) / "tenure.toml"
        config.write_text(CONFIG)
        os.environ.update(TENURE_HOME=str(home), TENURE_CONFIG=str(config), PREFECT_LOGGING_LEVEL="WARNING")
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        from prefect.testing.utilities import prefect_test_harness

        server_started = time.perf_counter()
        with prefect_test_harness(server_startup_timeout=120):
            server_s = time.perf_counter() - server_started
            rows = asyncio.run(_scenarios(args.turns))
    elapsed = time.perf_counter() - started
    context = (
        context_line(load, LIBRARIES)
        + f" · temporary Prefect server start {server_s:.0f} s (not counted)"
        + f" · total bench time {elapsed:.0f} s"
    )
    show(rows, context, "agent_turn: Prefect flow vs plain call (instant scripted model)", args.markdown)


if __name__ == "__main__":
    main()
