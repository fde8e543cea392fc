"""Benchmark: what the Telegram channel adds between a chat message and its turn.

Run from the repository root::

    .venv/bin/python bench/telegram.py [--messages N] [--markdown]

One run, against a real temporary Prefect server (``prefect_test_harness``, SQLite), a loopback fake of
Telegram's Bot API (``tests/fakes/telegram_server.py``) and a loopback fake Anthropic answering every
request at once (``tests/fakes/llm_server.py``). The gateway (``tenure.channels.telegram.bot.Gateway``)
long-polls the fake with python-telegram-bot in this event loop, ``poll_timeout = 1``; a pushed update
wakes the waiting ``getUpdates`` at once, so no poll interval is counted. Each part alternates the
channel and its baseline in blocks of 20, after 10 warm-up messages each, one message at a time:

* (a) inline turns (``InlineTurns``: the ``agent_turn`` flow run in the gateway's process), from the
  update being pushed to the fake Bot API until the reply reaches it (``SentMessage.at``): the poll's
  answer, the ledger writes (received, claimed, submitted, replying), the typing action, the flow run,
  reading the run and its answer back, and ``sendMessage``; against ``agent_turn`` called directly;
* (b) deployment turns (``DeploymentTurns``: a run of the ``agent_turn/agent_turn`` deployment), from
  the update being pushed until the flow run id is in the ledger; against ``arun_deployment`` called
  directly with the same arguments. No worker runs, so the runs stay Scheduled: only submission is timed
  (the turn runner's wait is 0 s, so the chat is told "still working" at once and the next message
  follows).

The added latency (p50) is the difference of the medians. No target is set; nothing fails the run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
# `python bench/telegram.py` puts bench/, not the repo root, on sys.path, and there this file would be
# what `import telegram` finds instead of python-telegram-bot
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.report import BLOCK, WARMUP_CALLS, Row, context_line, measure, p90, positive, show  # noqa: E402

if TYPE_CHECKING:
    from tenure.channels.telegram.bot import Gateway
    from tenure.channels.telegram.turns import Reply, TurnRunner
    from tenure.store.telegram import Entry, Ledger
    from tests.fakes.telegram_server import FakeBotAPI

LIBRARIES = ("python-telegram-bot", "prefect", "pydantic-ai")
CHAT = 4242
AGENT = "loki"
QUESTION = "Which port does the Prefect UI use?"
ANSWER = "Port 4200."
UI = "http://127.0.0.1:4200"


def _config(path: Path, llm_url: str, bot_url: str) -> None:
    path.write_text(
        f"""[providers.anthropic]
base_url = "{llm_url}"
[retry]
retries = 0
[chains]
default = ["anthropic:claude-opus-4-6"]
specialist = ["anthropic:claude-sonnet-4-6"]
[channels.telegram]
token = "env:TELEGRAM_BOT_TOKEN"
base_url = "{bot_url}"
allowed_chats = [{CHAT}]
poll_timeout = 1
"""
    )


@dataclass
class Timed:
    """A turn runner that notes (``time.monotonic()``, by update id) when each turn starts, when its flow
    run id has been written to the ledger, and when it returns."""

    inner: TurnRunner
    started: dict[int, float] = field(default_factory=dict)
    submitted: dict[int, float] = field(default_factory=dict)
    finished: dict[int, float] = field(default_factory=dict)

    async def run(self, entry: Entry, submitted: Callable[[str], None]) -> Reply:
        self.started[entry.update_id] = time.monotonic()

        def record(run_id: str) -> None:
            submitted(run_id)  # the ledger write
            self.submitted[entry.update_id] = time.monotonic()

        reply = await self.inner.run(entry, record)
        self.finished[entry.update_id] = time.monotonic()
        return reply


@dataclass(frozen=True)
class Exchange:
    """One message through the channel: its update id, when it was pushed, and when the reply arrived."""

    update_id: int
    pushed: float
    replied: float
    reply: str


@asynccontextmanager
async def _serving(gateway: Gateway, api: FakeBotAPI) -> AsyncIterator[None]:
    """The gateway polling in this event loop until the block ends."""
    stop = asyncio.Event()
    polls = len(api.calls("getUpdates"))
    task = asyncio.create_task(gateway.serve(stop, news=False))
    await asyncio.to_thread(api.wait_for_calls, "getUpdates", polls + 1, 60)
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


async def _exchange(api: FakeBotAPI, ledger: Ledger) -> Exchange:
    """Push one message and wait for its reply and for the ledger to close its row (so nothing of this
    message overlaps the next)."""
    n = len(api.sent)
    pushed = time.monotonic()
    update_id = api.push_message(CHAT, QUESTION)
    reply = (await asyncio.to_thread(api.wait_for_sent, n + 1, 60))[n]
    while (entry := ledger.get(update_id)) is None or entry.step not in ("replied", "failed"):
        await asyncio.sleep(0.005)
    return Exchange(update_id, pushed, reply.at, reply.plain_text)


def _p50_p90(samples: list[float]) -> str:
    return f"{statistics.median(samples):.1f} ms p50 · {p90(samples):.1f} ms p90"


def _ms(pairs: list[tuple[float, float]]) -> list[float]:
    return [(end - start) * 1000 for start, end in pairs]


async def _inline(
    api: FakeBotAPI, gateway: Callable[[TurnRunner], Gateway], home: Path, calls: int
) -> list[Row]:
    """(a) push → reply through the gateway with inline turns, against ``agent_turn`` called directly."""
    from tenure.channels.telegram.turns import InlineTurns
    from tenure.flows.agent_turn import agent_turn
    from tenure.store.telegram import Ledger

    timed = Timed(InlineTurns(UI))
    watch = Ledger.for_home(home)
    exchanges: list[Exchange] = []

    async def direct() -> None:
        result = await agent_turn(AGENT, QUESTION, "bench-direct")
        assert result.outcome == "answered" and result.answer == ANSWER, result.message

    async def channel() -> None:
        exchanges.append(await _exchange(api, watch))

    async with _serving(gateway(timed), api):
        times = await measure({"direct": direct, "channel": channel}, calls)
    watch.close()

    timed_x = exchanges[-calls:]  # the warm-up messages came first
    wrong = sum(x.reply != ANSWER for x in exchanges)
    ids = [x.update_id for x in timed_x]
    channel_ms = _ms([(x.pushed, x.replied) for x in timed_x])
    before = _ms([(x.pushed, timed.started[x.update_id]) for x in timed_x])
    flow = _ms([(timed.started[i], timed.submitted[i]) for i in ids])  # inline: the id comes at the end
    read_back = _ms([(timed.submitted[i], timed.finished[i]) for i in ids])
    after = _ms([(timed.finished[x.update_id], x.replied) for x in timed_x])
    direct_ms = times["direct"]
    p50_channel, p50_direct = statistics.median(channel_ms), statistics.median(direct_ms)
    return [
        Row(
            "(a) agent_turn flow, called directly (baseline)",
            _p50_p90(direct_ms),
            notes=f"{calls} turns after {WARMUP_CALLS} warm-up, in one thread; the fake answers each model "
            "request at once",
        ),
        Row(
            "(a) Telegram, inline turns: update pushed → reply at the Bot API",
            _p50_p90(channel_ms),
            notes=f"{calls} messages after {WARMUP_CALLS} warm-up, one chat, in blocks of {BLOCK} "
            f"alternating with the baseline; p50 by stage: {statistics.median(before):.1f} ms from the push "
            "to the turn starting (getUpdates answered, update written to the inbox, claimed in the ledger), "
            f"{statistics.median(flow):.1f} ms for the flow run (and its id written to the ledger), "
            f"{statistics.median(read_back):.1f} ms to read the run and its answer back, "
            f"{statistics.median(after):.1f} ms to the reply "
            f"(replying written, sendMessage); {len(exchanges) - wrong}/{len(exchanges)} replies were the "
            "model's answer",
        ),
        Row(
            "(a) added latency, inline (p50)",
            f"{p50_channel - p50_direct:+.0f} ms",
            notes=f"difference of the medians; ×{p50_channel / p50_direct:.2f} the direct flow",
        ),
    ]


async def _deployment(
    api: FakeBotAPI, gateway: Callable[[TurnRunner], Gateway], home: Path, calls: int
) -> list[Row]:
    """(b) push → flow run id in the ledger with deployment turns, against ``arun_deployment`` directly."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.deployments import arun_deployment

    from tenure.channels.telegram.turns import DEPLOYMENT, DeploymentTurns
    from tenure.store.telegram import Ledger

    timed = Timed(DeploymentTurns(home, UI, timeout=0))  # no worker: don't wait for the run
    watch = Ledger.for_home(home)
    exchanges: list[Exchange] = []
    direct_runs: list[str] = []

    async def direct() -> None:
        run = await arun_deployment(
            DEPLOYMENT,
            parameters={"agent": AGENT, "message": QUESTION, "thread": "bench-direct"},
            idempotency_key=f"bench-{len(direct_runs)}",
            tags=["channel:telegram"],
            timeout=0,
            as_subflow=False,
        )
        direct_runs.append(str(run.id))

    async def channel() -> None:
        exchanges.append(await _exchange(api, watch))

    async with _serving(gateway(timed), api):
        times = await measure({"direct": direct, "channel": channel}, calls)
    run_ids = [watch.get(x.update_id) for x in exchanges]
    watch.close()

    total = len(exchanges) + len(direct_runs)
    async with get_client() as client:
        deployment = await client.read_deployment_by_name(DEPLOYMENT)
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])), limit=total + 10
        )
    scheduled = sum(r.state is not None and r.state.is_scheduled() for r in runs)
    ledger_ids = {e.flow_run_id for e in run_ids if e is not None and e.flow_run_id}
    timed_x = exchanges[-calls:]
    channel_ms = _ms([(x.pushed, timed.submitted[x.update_id]) for x in timed_x])
    before = _ms([(x.pushed, timed.started[x.update_id]) for x in timed_x])
    submit = _ms([(timed.started[x.update_id], timed.submitted[x.update_id]) for x in timed_x])
    direct_ms = times["direct"]
    p50_channel, p50_direct = statistics.median(channel_ms), statistics.median(direct_ms)
    return [
        Row(
            "(b) arun_deployment, called directly (baseline)",
            _p50_p90(direct_ms),
            notes=f"{calls} submissions after {WARMUP_CALLS} warm-up: {DEPLOYMENT}, timeout=0, the channel's "
            "parameters, tags and a fresh idempotency key each",
        ),
        Row(
            "(b) Telegram, deployment turns: update pushed → flow run id in the ledger",
            _p50_p90(channel_ms),
            notes=f"{calls} messages after {WARMUP_CALLS} warm-up, alternating with the baseline; p50 by "
            f"stage: {statistics.median(before):.1f} ms from the push to the turn starting, "
            f"{statistics.median(submit):.1f} ms to submit the run and write its id; {len(ledger_ids)} "
            f"distinct run ids in the ledger for {len(exchanges)} messages; the server holds {len(runs)} "
            f"runs of the deployment ({scheduled} Scheduled; expected {total})",
        ),
        Row(
            "(b) added latency, update received → run submitted (p50)",
            f"{p50_channel - p50_direct:+.0f} ms",
            notes=f"difference of the medians; ×{p50_channel / p50_direct:.2f} the direct submission",
        ),
    ]


async def _parts(api: FakeBotAPI, home: Path, calls: int) -> tuple[list[Row], float]:
    from prefect.settings import PREFECT_API_URL

    from tenure.channels.telegram.bot import Gateway
    from tenure.config import load_config
    from tenure.deployments.deploy import apply

    config = load_config()
    telegram = config.channels.telegram
    assert telegram is not None
    api_url = str(PREFECT_API_URL.value())

    def gateway(turns: TurnRunner) -> Gateway:
        return Gateway(telegram, config, home, api.token, turns, api_url)

    rows = await _inline(api, gateway, home, calls)
    started = time.perf_counter()
    await apply(api_url, config.prefect)
    apply_s = time.perf_counter() - started
    rows += await _deployment(api, gateway, home, calls)
    return rows, apply_s


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--messages", type=positive, default=30, help="timed messages per variant and part")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = parser.parse_args()

    started, load = time.perf_counter(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="tenure-bench-") as tmp:
        from tests.fakes.llm_server import FakeLLMServer, ok
        from tests.fakes.telegram_server import FakeBotAPI

        home = Path(tmp) / "home"
        with FakeLLMServer(responder=lambda body: ok(ANSWER)) as llm, FakeBotAPI() as api:
            _config(Path(tmp) / "tenure.toml", llm.url, api.base_url)
            os.environ.update(
                TENURE_HOME=str(home),
                TENURE_CONFIG=str(Path(tmp) / "tenure.toml"),
                ANTHROPIC_API_KEY="sk-ant-bench",
                TELEGRAM_BOT_TOKEN=api.token,
                PREFECT_LOGGING_LEVEL="WARNING",
            )
            os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
            from prefect.testing.utilities import prefect_test_harness

            server_started = time.perf_counter()
            with prefect_test_harness(server_startup_timeout=120):
                server_s = time.perf_counter() - server_started
                rows, apply_s = asyncio.run(_parts(api, home, args.messages))
            requests = len(llm.completion_requests)
    elapsed = time.perf_counter() - started
    expected = 2 * (args.messages + WARMUP_CALLS)
    context = (
        context_line(load, LIBRARIES)
        + f" · temporary Prefect server start {server_s:.0f} s and the deployments' apply {apply_s:.1f} s "
        + "(not counted)"
        + f" · fake Anthropic saw {requests} requests (expected {expected})"
        + f" · total bench time {elapsed:.0f} s"
    )
    show(rows, context, "Telegram channel: added latency over the plain flow / submission", args.markdown)


if __name__ == "__main__":
    main()
