"""The ``tenure`` command line (typer + rich)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from tenure.config import ConfigError, Env, TenureConfig, load_config
from tenure.models import CallFailed, CallResult, ChainUnavailable, call
from tenure.models.local import few_shot_prompt

if TYPE_CHECKING:
    from tenure.store.vault import VaultStore

# Prefect's own chatter (temporary server, telemetry, per-task INFO lines) would bury the CLI's output;
# deployed runs on a worker keep their normal logging.
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

app = typer.Typer(
    help="tenure: a personal LLM agent team on Prefect, where local models earn tenure on evidence.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

STATUS_STYLE = {"ok": "green", "warn": "yellow", "fail": "red"}


def _load() -> tuple[Env, TenureConfig]:
    """Load config or exit 2 with one line per bad key (nothing is started on a bad config)."""
    env = Env()
    try:
        return env, load_config()
    except ConfigError as exc:
        err.print(f"[red]invalid configuration[/red] ({len(exc.problems)} problem(s)):")
        for line in str(exc).splitlines():
            err.print(f"  {line}", markup=False, highlight=False)
        raise typer.Exit(2) from None


def render_result(result: CallResult, console: Console = out) -> None:
    """The record of one call: who served, what it cost, and every attempt on the way."""
    cost = "unknown" if result.cost_usd is None else f"${result.cost_usd:.6f}"
    console.print(
        f"[bold]served by[/bold] {result.served_by or '-'}  [dim]asked[/dim] {result.requested}  "
        f"[dim]tokens[/dim] {result.input_tokens}→{result.output_tokens}  [dim]cost[/dim] {cost}  "
        f"[dim]latency[/dim] {result.latency_ms:.0f} ms  [dim]fallbacks[/dim] {len(result.fallbacks)}"
    )
    by_reason: dict[str, list[str]] = {}
    for skip in result.skipped:
        by_reason.setdefault(skip.reason, []).append(skip.model)
    for reason, models in by_reason.items():
        console.print(f"[dim]skipped[/dim] {', '.join(models)}: {reason}", highlight=False)
    if not result.attempts:
        return
    table = Table("model", "outcome", "error", "why", "ms", box=None, pad_edge=False)
    for a in result.attempts:
        style = {"ok": "green", "failed": "red", "skipped": "dim"}.get(a.outcome, "yellow")
        table.add_row(
            a.model, f"[{style}]{a.outcome}[/{style}]", a.error or "", a.reason or "", f"{a.latency_ms:.0f}"
        )
    console.print(table)


@app.command()
def ask(
    prompt: Annotated[str, typer.Argument(help="The message, or '-' to read it from stdin.")],
    agent: Annotated[
        str | None, typer.Option("--agent", "-a", help="Who answers (default: the main agent, Loki).")
    ] = None,
    thread: Annotated[str, typer.Option("--thread", "-t", help="Conversation to continue or start.")] = "cli",
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Skip the agents: ask one model id, e.g. local:gemma-3-270m."),
    ] = None,
    chain: Annotated[
        str | None, typer.Option("--chain", "-c", help="Skip the agents: ask a chain from tenure.toml.")
    ] = None,
    system: Annotated[str | None, typer.Option(help="System instructions for --model/--chain.")] = None,
    max_tokens: Annotated[
        int | None, typer.Option(min=1, help="Bound the answer's length (--model/--chain).")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the turn's (or call's) record as JSON.")
    ] = False,
) -> None:
    """Ask the team (an agent turn with tools and memory), or one model with --model/--chain.

    A turn is one [bold]agent_turn[/bold] flow run in a thread: it prints the answer, who served, the
    cost, the tool calls and any dispatch to a teammate."""
    if sum(x is not None for x in (model, chain, agent)) > 1:
        err.print("[red]--agent, --model and --chain are exclusive[/red]: pick one")
        raise typer.Exit(2)
    env, config = _load()
    text = sys.stdin.read() if prompt == "-" else prompt
    if model is None and chain is None:
        run_agent_turn(agent or config.main_agent, text, thread, config, json_out)
        return
    try:
        result = asyncio.run(
            call(
                text,
                config=config,
                home=env.home.expanduser(),
                target=model or chain or "default",
                system=system,
                max_tokens=max_tokens,
            )
        )
    except (ConfigError, ValueError) as exc:
        err.print(Text(str(exc), style="red"))
        raise typer.Exit(2) from None
    except ChainUnavailable as exc:
        err.print(Text(str(exc), style="red"))
        raise typer.Exit(1) from None
    except CallFailed as exc:
        err.print(Text(str(exc), style="red"))
        render_result(exc.result, err)
        raise typer.Exit(1) from None
    if json_out:
        out.print_json(result.model_dump_json())
        return
    answer = Text(str(result.output), style="bold cyan")
    out.print(Text(text) + answer if model and model.startswith("local:") else answer)
    render_result(result)


def run_agent_turn(agent: str, message: str, thread: str, config: TenureConfig, json_out: bool) -> None:
    """One ``agent_turn`` flow run; exits 2 on bad input, 1 when the turn failed or hit a limit."""
    from tenure.flows.agent_turn import agent_turn

    if agent not in config.agents:
        err.print(f"[red]no agent named {agent!r}[/red]; the team: {', '.join(config.agents)}")
        raise typer.Exit(2)
    try:
        with out.status(f"{agent} is thinking…"):
            result = asyncio.run(agent_turn(agent, message, thread))
    except ValueError as exc:
        err.print(Text(str(exc), style="red"))
        raise typer.Exit(2) from None
    if json_out:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
    else:
        render_turn(result, config)
    if result.outcome != "answered":
        raise typer.Exit(1)


def render_turn(result, config: TenureConfig, indent: str = "") -> None:
    """A turn as the user reads it: the answer, then who served, cost, tools and dispatches."""
    emoji = config.agents[result.agent].emoji if result.agent in config.agents else ""
    if result.answer:
        out.print(
            Text(f"{indent}{emoji} {result.agent}: ", style="bold")
            + Text(result.answer.strip(), style="cyan")
        )
    if result.message:
        out.print(Text(f"{indent}{result.message}", style="yellow" if result.outcome == "limit" else "red"))
    cost = "unknown" if result.cost_usd is None else f"${result.cost_usd:.6f}"
    out.print(
        f"{indent}[dim]served by[/dim] {', '.join(result.served_by) or '-'}  "
        f"[dim]requests[/dim] {result.requests}  "
        f"[dim]tokens[/dim] {result.input_tokens}→{result.output_tokens}  [dim]cost[/dim] {cost}  "
        f"[dim]thread[/dim] {result.thread}",
        highlight=False,
    )
    for skip in result.skipped:
        out.print(f"{indent}[dim]skipped[/dim] {skip}", highlight=False)
    if result.tools_note:
        out.print(Text(f"{indent}{result.tools_note}", style="yellow"))
    calls = ", ".join(f"{c.name} ({c.detail})" + ("" if c.ok else " ✗") for c in result.tool_calls)
    out.print(f"{indent}[dim]tool calls[/dim] {calls or 'none'}", highlight=False)
    for sub in result.dispatched:
        out.print(f"{indent}[dim]dispatched to[/dim] {sub.agent}:")
        render_turn(sub, config, indent + "    ")


@app.command()
def doctor() -> None:
    """Check config, keys, Ollama, the 1Password CLI, the embedded model and the Prefect API."""
    from tenure.doctor import run_checks

    env = Env()
    path = env.config_path
    try:
        config = load_config()
    except ConfigError as exc:
        err.print(f"[red]fail[/red] config: {path}")
        for problem in exc.problems:
            err.print(f"  {problem}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    detail = f"valid: {path}" if path.exists() else f"shipped defaults (no file at {path})"
    table = Table("check", "status", "detail", "fix", title="tenure doctor")
    worst = "ok"
    for name, run in run_checks(config, env, detail):
        with out.status(f"checking {name}…"):
            checks = run()
        for c in checks:
            style = STATUS_STYLE[c.status]
            table.add_row(c.name, f"[{style}]{c.status}[/{style}]", c.detail, c.fix)
            if c.status == "fail" or (c.status == "warn" and worst == "ok"):
                worst = c.status
    out.print(table)
    raise typer.Exit(1 if worst == "fail" else 0)


DEMO_TASKS = [
    (
        "complete",
        "Paris is the capital of France. Berlin is the capital of Germany. Rome is the capital of",
        [".", "\n"],
    ),
    (
        "classify",
        few_shot_prompt(
            [
                ("Your invoice #4471 is overdue, please pay today", "billing"),
                ("Team lunch moved to Friday at noon", "social"),
                ("Server disk at 95%, backups failing since 02:00", "incident"),
                ("Receipt for your payment of $12.00", "billing"),
            ],
            "Production database is down, all API calls return 500",
            instruction="Label each email subject.",
            input_label="Email",
            output_label="Label",
        ),
        ["\n"],
    ),
    (
        "sentiment",
        few_shot_prompt(
            [
                ("The new release fixed every bug I had", "positive"),
                ("Support never answered my ticket", "negative"),
            ],
            "The onboarding was smooth and quick",
            input_label="Review",
            output_label="Sentiment",
        ),
        ["\n"],
    ),
]


@app.command()
def demo(
    chain: Annotated[str, typer.Option(help="The chain for the model-layer prompts.")] = "default",
    limit: Annotated[int, typer.Option(min=1, help="Golden tasks per type to shadow-evaluate.")] = 3,
    replay: Annotated[
        bool, typer.Option(help="Use the golden references as ground truth even with keys.")
    ] = False,
) -> None:
    """Run the main job on the embedded defaults: no keys, no network.

    The fallback chain, then the golden set shadow-evaluated with [bold]local:gemma-3-270m[/bold] as
    candidate against the archived references and the scoreboard, then the sample vault indexed and
    searched."""
    env, config = _load()
    home = env.home.expanduser()
    out.rule("[bold]tenure demo[/bold] · the model layer")
    out.print(f"chain [bold]{chain}[/bold]: {' → '.join(config.chain(chain))}")

    async def run_all() -> list[tuple[str, str, CallResult]]:
        results = []
        for task, prompt, stop in DEMO_TASKS:
            with out.status(f"{task}: asking the chain…"):
                result = await call(prompt, config=config, home=home, target=chain, max_tokens=12, stop=stop)
            results.append((task, prompt, result))
            out.print(f"\n[bold]{task}[/bold]")
            out.print(Text(prompt.splitlines()[-1]) + Text(str(result.output), style="bold cyan"))
            render_result(result)
        return results

    try:
        results = asyncio.run(run_all())
    except (ChainUnavailable, CallFailed) as exc:
        err.print(Text(str(exc), style="red"))
        raise typer.Exit(1) from None
    total = sum(r.cost_usd or 0.0 for _, _, r in results)
    served = sorted({r.served_by or "-" for _, _, r in results})
    out.rule()
    out.print(f"{len(results)} calls, served by {', '.join(served)}, total cost ${total:.6f}")

    out.rule("[bold]tenure demo[/bold] · shadow evaluation of the golden set")
    run_golden(None, limit, ["local:gemma-3-270m"], home, replay=replay)
    render_scores(home, config)
    out.print(
        f'score log: {home / "store"}  (try: tenure sql "select task_type, count(*) from scores group by 1")'
    )

    out.rule("[bold]tenure demo[/bold] · semantic memory over the sample vault")
    from tenure.memory.search import search

    index = home / "demo" / "vault_index"  # never the user's own index
    render_index_report(index_vault(env, SAMPLE_VAULT, index=index))
    for query in DEMO_QUERIES:
        out.print(f"\n[bold]tenure vault search[/bold] {query!r}")
        render_hits(search(_vault_store(env, index), query, 3), as_json=False)
    out.print('\nyour own vault: tenure vault index PATH, then tenure vault search "…"')


SAMPLE_VAULT = Path(__file__).resolve().parents[1] / "data" / "vault"
DEMO_QUERIES = ("why did I move the home server to Proxmox?", "Sofia Márquez")


def run_golden(
    types: list[str] | None, limit: int | None, candidates: list[str] | None, home: Path, replay: bool = False
) -> None:
    """Shadow-evaluate golden tasks, one ``shadow_eval`` flow run per type, with a progress bar.

    The ground truth is the type's ground-truth chain when it has a reachable instruction model (unless
    ``replay``), else the archived references."""
    from tenure.control.golden import load_golden
    from tenure.control.shadow import has_instruction_model
    from tenure.flows.shadow_eval import shadow_eval

    tasks = load_golden(types, limit)
    by_type: dict[str, list] = {}
    for task in tasks:
        by_type.setdefault(task.type, []).append(task)

    config = load_config()
    live = {
        t: not replay and has_instruction_model(config, home, config.task_types[t].ground_truth)
        for t in by_type
    }
    if any(live.values()):
        out.print(
            "ground truth: asked live from each type's ground-truth chain (--replay uses the references)"
        )
    else:
        out.print("ground truth: the golden references, replayed (no ground-truth model is reachable)")

    async def run_all(progress: Progress, bar: TaskID) -> None:
        for task_type, batch in by_type.items():
            progress.update(bar, description=f"shadow_eval/{task_type}")
            mode = "chain" if live[task_type] else "reference"
            await shadow_eval(
                task_type, tasks=batch, candidates=candidates, source="golden", ground_truth=mode
            )
            progress.advance(bar, len(batch))

    columns = (SpinnerColumn(), "{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=out) as progress:
        asyncio.run(run_all(progress, progress.add_task("shadow evaluation", total=len(tasks))))


def render_scores(home: Path, config: TenureConfig, as_json: bool = False) -> None:
    """The scoreboard: model × task type × judge with n, mean, std, and the type's gate on that evidence."""
    from tenure.control.gates import gate_from_settings
    from tenure.store import ScoreLog

    log = ScoreLog(home / "store")
    records = log.scoreboard()
    spending = log.judge_spend_today()
    paused = {}
    for task_type, settings in config.task_types.items():
        spent = spending.get(task_type, 0.0)
        if settings.judge_budget_usd is not None and spent >= settings.judge_budget_usd:
            paused[task_type] = (
                f"paused: judge budget ${spent:.2f} of ${settings.judge_budget_usd:.2f} spent today"
            )
    for r in records:
        r["paused"] = paused.get(r["task_type"])
        settings = config.task_types.get(r["task_type"])
        gate = gate_from_settings(settings.gate) if settings else None
        decision = gate.assess(r["mean"] * r["n"], r["n"]) if gate else None
        r["gate"] = settings.gate.policy if settings else None
        r["bound"] = decision.bound if decision else None
        r["decision"] = decision.action if decision else None
        r["runs_needed"] = gate.runs_needed(r["mean"] * r["n"], r["n"]) if gate else None
    if as_json:
        for record in records:
            out.print_json(json.dumps(record, default=str))
        return
    table = Table(title="scoreboard")
    for name in ("model", "task type", "judge"):
        table.add_column(name, overflow="fold")
    for name in ("n", "mean", "bound"):
        table.add_column(name, justify="right", no_wrap=True, min_width=5)
    table.add_column("gate", min_width=10)
    for r in records:
        status = {"promote": "[green]promote[/green]", "reject": "[red]reject[/red]"}.get(
            r["decision"], "collecting"
        )
        if r["decision"] == "continue" and r["runs_needed"] is not None:
            status += f" (~{r['runs_needed']} more)"
        if r["judge_failures"]:
            status += f"; {r['judge_failures']} judge failures"
        if r["paused"]:
            status += f"; {r['paused']}"
        bound = "-" if r["bound"] is None else f"{r['bound']:.3f}"
        table.add_row(r["model"], r["task_type"], r["judge"], str(r["n"]), f"{r['mean']:.3f}", bound, status)
    out.print(table if records else "no scores yet: run 'tenure eval --golden' or 'tenure demo'")


@app.command("eval")
def eval_(
    golden: Annotated[bool, typer.Option("--golden", help="Run the golden task set (data/golden).")] = False,
    pending: Annotated[bool, typer.Option("--pending", help="Shadow routed tasks not shadowed yet.")] = False,
    replay: Annotated[
        bool, typer.Option(help="Golden: use the references as ground truth even with keys.")
    ] = False,
    types: Annotated[str | None, typer.Option(help="Comma-separated task types (default: all).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most N tasks per type.")] = None,
    candidate: Annotated[
        list[str] | None,
        typer.Option("--candidate", help="Candidate model id (repeatable; default: config)."),
    ] = None,
) -> None:
    """Shadow-evaluate candidates against references and log every run and score."""
    if golden == pending:
        err.print(
            "pass exactly one of --golden (the golden set) or --pending (routed tasks not shadowed yet)"
        )
        raise typer.Exit(2)
    env, config = _load()
    try:
        if golden:
            chosen = types.split(",") if types else None
            run_golden(chosen, limit, candidate or None, env.home.expanduser(), replay=replay)
        else:
            from tenure.flows.shadow_eval import shadow_pending

            with out.status("shadowing routed tasks…"):
                drained = asyncio.run(shadow_pending(limit=limit or 100))
            out.print(f"shadowed: {json.dumps(drained) if drained else 'nothing was pending'}")
    except ValueError as exc:
        err.print(Text(str(exc), style="red"))
        raise typer.Exit(2) from None
    render_scores(env.home.expanduser(), config)


@app.command()
def route(
    task_type: Annotated[str, typer.Argument(metavar="TYPE", help="analyze, classify, extract, format, …")],
    input_file: Annotated[
        str, typer.Option("--input", "-i", help="JSON file with the task input, or '-'.")
    ] = "-",
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the answer and its record as JSON.")
    ] = False,
) -> None:
    """Answer a commodity task from its ground-truth chain now, and queue it for shadow evaluation."""
    from tenure.control.routing import RoutingFailed, route_task
    from tenure.control.tasks import TaskError, parse_task

    env, config = _load()
    try:
        raw = sys.stdin.buffer.read() if input_file == "-" else Path(input_file).read_bytes()
        task = parse_task(raw, task_type=task_type)
        if not task.id:
            task = task.model_copy(update={"id": f"cli-{task_type}"})
        routed = asyncio.run(route_task(task, config, env.home.expanduser()))
    except (TaskError, OSError) as exc:
        err.print(Text(str(exc), style="red"))
        raise typer.Exit(2) from None
    except (RoutingFailed, ChainUnavailable) as exc:
        err.print(Text(str(exc), style="red"))
        raise typer.Exit(1) from None
    if json_out:
        record = routed.result.model_dump(mode="json", exclude={"output"})
        out.print_json(json.dumps({"output": routed.output, "run_id": routed.run_id, "record": record}))
        return
    out.print(
        Text(
            routed.output if isinstance(routed.output, str) else json.dumps(routed.output), style="bold cyan"
        )
    )
    render_result(routed.result)
    out.print(f"queued for shadowing by {', '.join(routed.queued_for)} (run {routed.run_id})")


def _override(action: str, model: str, task_type: str) -> None:
    from tenure.control.promotions import Event, record
    from tenure.control.tasks import TaskError, get_type
    from tenure.models import parse_model_id
    from tenure.store import ScoreLog

    env, _ = _load()
    try:
        get_type(task_type)
        parse_model_id(model)
    except (TaskError, ValueError) as exc:
        err.print(Text(str(exc), style="red"))
        raise typer.Exit(2) from None
    user = os.environ.get("USER") or "unknown"
    event = Event(task_type, model, action, f"user:{user}", f"manual {action} by {user}", {})
    record(ScoreLog(env.home.expanduser() / "store"), [event])
    out.print(f"{action}d {model} for {task_type} (recorded as an event by user:{user})")


@app.command()
def promote(
    model: Annotated[str, typer.Argument(help="The model id, e.g. ollama:qwen2.5:latest.")],
    task_type: Annotated[str, typer.Argument(metavar="TYPE", help="The task type it should answer.")],
) -> None:
    """Promote MODEL for TYPE by hand (recorded as an event with you as the reason)."""
    _override("promote", model, task_type)


@app.command()
def demote(
    model: Annotated[str, typer.Argument(help="The promoted model id.")],
    task_type: Annotated[str, typer.Argument(metavar="TYPE", help="The task type.")],
) -> None:
    """Demote MODEL for TYPE by hand: the ground truth answers the type again."""
    _override("demote", model, task_type)


@app.command()
def promotions(
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per event.")] = False,
) -> None:
    """Every promote / demote / reject event, oldest first, with who decided and on what evidence."""
    from tenure.store import ScoreLog

    env, _ = _load()
    columns, rows = ScoreLog(env.home.expanduser() / "store").query(
        "SELECT ts, task_type, model, action, actor, reason, evidence FROM events ORDER BY ts"
    )
    if json_out:
        for row in rows:
            out.print_json(json.dumps(dict(zip(columns, row, strict=True)), default=str))
        return
    table = Table("when", "type", "model", "action", "by", "why", title="promotions")
    for ts, task_type, model, action, actor, reason, _evidence in rows:
        table.add_row(f"{ts:%Y-%m-%d %H:%M}", task_type, model, action, actor, reason)
    out.print(table if rows else "no promotion events yet")


@app.command()
def backtest(
    model: Annotated[str, typer.Option("--model", "-m", help="The candidate, e.g. ollama:llama3.2:3b.")],
    task_type: Annotated[str, typer.Option("--type", "-t", help="The task type to backtest.")],
    limit: Annotated[int, typer.Option(min=1, help="At most N archived tasks, newest first.")] = 200,
) -> None:
    """Assess a new candidate against the archived ground truth (no new ground-truth calls)."""
    from tenure.control.tasks import TaskError
    from tenure.flows.shadow_eval import backtest as backtest_flow

    _load()
    try:
        with out.status(f"backtesting {model} on archived {task_type} tasks…"):
            verdict = asyncio.run(backtest_flow(model, task_type, limit=limit))
    except (TaskError, ValueError) as exc:
        err.print(Text(str(exc), style="red"))
        raise typer.Exit(2) from None
    if not verdict["archived"]:
        out.print(
            f"no archived {task_type} ground truth yet: route some tasks first ('tenure route {task_type}')"
        )
        return
    bound = "-" if verdict["bound"] is None else f"{verdict['bound']:.3f}"
    out.print(
        f"{model} on {verdict['archived']} archived {task_type} tasks: {verdict['n']} scored by the "
        f"{verdict['judge_kind']} judge, mean {verdict['mean']:.3f}, bound {bound}, gate says "
        f"[bold]{verdict['decision']}[/bold]"
    )


@app.command()
def scores(
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per row.")] = False,
) -> None:
    """The scoreboard from the score log: model × task type × judge with n, mean, std and status."""
    env, config = _load()
    render_scores(env.home.expanduser(), config, as_json=json_out)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="One SELECT over the views runs, scores, confidence.")],
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per row.")] = False,
) -> None:
    """Run read-only SQL against the score log's DuckDB views."""
    from tenure.store import ScoreLog

    env, _ = _load()
    try:
        columns, rows = ScoreLog(env.home.expanduser() / "store").query(query)
    except ValueError as exc:
        err.print(Text(str(exc), style="red"))
        raise typer.Exit(2) from None
    if json_out:
        for row in rows:
            out.print_json(json.dumps(dict(zip(columns, row, strict=True)), default=str))
        return
    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    out.print(table)


vault_app = typer.Typer(help="The notes vault: index it, search it, see its state.", no_args_is_help=True)
app.add_typer(vault_app, name="vault")


class SearchMode(StrEnum):
    hybrid = "hybrid"
    vector = "vector"
    keyword = "keyword"


def _vault_store(env: Env, index: Path | None = None) -> VaultStore:
    from tenure.store.vault import VaultStore

    return VaultStore(index) if index else VaultStore.for_home(env.home)


def render_index_report(report: dict, console: Console = out) -> None:
    """The change report of one ``vault_embed`` pass: notes and chunks by what happened to them."""
    table = Table("", "new", "updated", "unchanged", "removed", "skipped", "embedded", box=None)
    table.add_row(
        "notes",
        *(str(report[f"notes_{k}"]) for k in ("new", "updated", "unchanged", "removed", "skipped")),
        "",
    )
    table.add_row(
        "chunks",
        *(str(report[f"chunks_{k}"]) for k in ("new", "updated", "unchanged", "removed")),
        "",
        str(report["chunks_embedded"]),
    )
    console.print(table)
    for warning in report["warnings"]:
        console.print(Text(f"warning: {warning}", style="yellow"))


def index_vault(env: Env, root: Path, *, full: bool = False, index: Path | None = None) -> dict:
    """Run ``vault_embed`` in-process with a progress bar; exits with a clear message on a busy index."""
    from tenure.flows.vault_embed import vault_embed
    from tenure.store.vault import IndexBusy

    if not root.is_dir():
        err.print(Text(f"vault folder {root} does not exist; pass a folder of .md notes", style="red"))
        raise typer.Exit(2)
    columns = (
        SpinnerColumn(),
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        "notes · {task.fields[embedded]} chunks embedded",
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=out, transient=True) as progress:
        bar = progress.add_task(f"indexing {root}", total=None, embedded=0)

        def advance(done: int, total: int, report) -> None:
            progress.update(bar, completed=done, total=total, embedded=report.chunks_embedded)

        try:
            report = vault_embed(str(root), full=full, index=str(index) if index else None, progress=advance)
        except IndexBusy as exc:
            err.print(Text(str(exc), style="red"))
            raise typer.Exit(1) from None
    return report


@vault_app.command("index")
def vault_index(
    path: Annotated[
        Path | None, typer.Argument(help="The vault folder; defaults to vault.path from tenure.toml.")
    ] = None,
    full: Annotated[
        bool,
        typer.Option("--full", help="Forget the index and embed every note again (after changing chunking)."),
    ] = False,
) -> None:
    """Index the notes that changed since the last run (new, edited, deleted) and print what changed."""
    env, config = _load()
    root = path or config.vault.path
    if root is None:
        err.print(
            "[red]no vault given[/red]: pass one (tenure vault index PATH) or set vault.path in tenure.toml"
        )
        raise typer.Exit(2)
    report = index_vault(env, root.expanduser(), full=full)
    render_index_report(report)
    out.print(f"index: {_vault_store(env).root}")


def render_hits(hits: list, as_json: bool) -> None:
    if as_json:
        for hit in hits:
            sys.stdout.write(json.dumps(hit.as_json(), ensure_ascii=False) + "\n")
        return
    if not hits:
        out.print("no matching notes")
    for n, hit in enumerate(hits, 1):
        where = " › ".join((hit.path, *hit.headings[-2:]))
        line = Text(f"{n}. ", style="bold") + Text(where, style="bold cyan")
        line += Text(f"  {hit.score:.4g}" + (f"  {hit.date}" if hit.date else ""), style="dim")
        if hit.stale:
            line += Text("  changed since indexed", style="yellow")
        out.print(line)
        out.print(Text(f"   {hit.snippet}"))


@vault_app.command("search")
def vault_search(
    query: Annotated[str, typer.Argument(help="What you are looking for, in plain words or exact names.")],
    mode: Annotated[
        SearchMode, typer.Option(help="hybrid: keywords and meaning fused; vector: meaning; keyword: BM25.")
    ] = SearchMode.hybrid,
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="How many notes to return.")] = 5,
    folder: Annotated[
        list[str] | None, typer.Option("--folder", help="Only notes in this top-level folder (repeatable).")
    ] = None,
    since: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Only notes dated on or after this day.")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Only notes dated on or before this day.")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Only notes with this tag (repeatable).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per hit, for scripts.")] = False,
) -> None:
    """Search the vault index; a hit marked [yellow]changed since indexed[/yellow] should be re-read."""
    from tenure.memory.search import search

    env, _ = _load()
    store = _vault_store(env)
    if not store.exists():
        err.print(f"[red]no vault index at {store.root}[/red]: run tenure vault index PATH first")
        raise typer.Exit(1)
    hits = search(
        store,
        query,
        k,
        mode=mode.value,
        folders=tuple(folder or ()),
        since=since.date() if since else None,
        until=until.date() if until else None,
        tags=tuple(tag or ()),
    )
    render_hits(hits, json_out)


@vault_app.command("status")
def vault_status() -> None:
    """Notes and chunks in the index, the last run, and files changed on disk since then."""
    from tenure.memory.index import plan

    env, config = _load()
    store = _vault_store(env)
    last = store.last_run() if store.exists() else None
    if last is None:
        out.print(f"no vault index at {store.root} yet: run tenure vault index PATH")
        raise typer.Exit(1)
    states = store.note_states()
    skipped = sorted(p for p, s in states.items() if s["status"] == "skipped")
    out.print(f"index    {store.root}")
    out.print(f"vault    {last['vault']}")
    out.print(f"notes    {len(states) - len(skipped)} indexed, {len(skipped)} skipped")
    out.print(f"chunks   {store.count_chunks()}")
    counts = ", ".join(f"{last[f'notes_{k}']} {k}" for k in ("new", "updated", "removed"))
    out.print(
        f"last run {last['finished_at']:%Y-%m-%d %H:%M:%S} UTC, {last['seconds']:.1f} s"
        + (" (full)" if last["full"] else "")
        + f": notes {counts}; {last['chunks_embedded']} chunks embedded"
    )
    vault = Path(last["vault"])
    if not vault.is_dir():
        out.print(f"[yellow]the vault folder {vault} is gone[/yellow]")
        return
    pending = plan(vault, store, config.vault)
    new = [f.path for f in pending.todo if f.path not in pending.known]
    changed = [f.path for f in pending.todo if f.path in pending.known]
    out.print(
        f"stale    {len(changed)} changed, {len(new)} new, {len(pending.deleted)} deleted since the last run"
    )
    for label, paths in (
        ("changed", changed),
        ("new", new),
        ("deleted", pending.deleted),
        ("skipped", skipped),
    ):
        for p in paths[:10]:
            out.print(f"  [dim]{label}[/dim] {p}", highlight=False)
        if len(paths) > 10:
            out.print(f"  [dim]… and {len(paths) - 10} more {label}[/dim]")


agents_app = typer.Typer(help="The team: lay out their workspaces, see who is who.", no_args_is_help=True)
app.add_typer(agents_app, name="agents")


@agents_app.command("init")
def agents_init() -> None:
    """Create or repair every agent's workspace (SOUL.md, AGENTS.md, links to the shared items).

    Safe to rerun: it never overwrites a persona file and refuses to replace a real file or folder
    where a link belongs."""
    from tenure.agents.workspace import WorkspaceError, init_workspaces

    env, config = _load()
    try:
        done = init_workspaces(env.home.expanduser(), config)
    except WorkspaceError as exc:
        err.print("[red]cannot lay out the workspaces[/red] (nothing was changed):")
        for line in str(exc).splitlines():
            err.print(f"  {line}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    for line in done:
        out.print(line, highlight=False)
    out.print("workspaces are up to date" if not done else f"{len(done)} change(s)")


@agents_app.command("list")
def agents_list() -> None:
    """Each agent with its role, model chain, tools, limits and the state of its workspace."""
    from tenure.agents.workspace import inspect

    env, config = _load()
    home = env.home.expanduser()
    states = inspect(home, config)
    table = Table("agent", "chain", "tools · limits", "workspace")
    for state in states:
        a = config.agents[state.agent]
        models = config.chain(a.chain)
        problems = [f"{link.item} {link.status}" for link in state.links if link.status != "ok"]
        problems += [f"{f} missing" for f, present in state.persona.items() if not present]
        shown = "[green]ok[/green]" if state.ok else "[yellow]" + ", ".join(problems) + "[/yellow]"
        table.add_row(
            f"{a.emoji} [bold]{state.agent}[/bold]"
            + (" (main)" if state.agent == config.main_agent else "")
            + f"\n[dim]{a.role}[/dim]",
            f"{a.chain}: {models[0]}" + (f" → … → {models[-1]}" if len(models) > 1 else ""),
            (", ".join(a.tools) or "no tools")
            + f"\n[dim]{a.limits.max_requests} requests, {a.limits.max_tool_calls} tool calls, "
            f"{a.limits.max_tokens:,} tokens, ${a.limits.max_usd:g}[/dim]",
            f"{state.path.name}/ {shown}",
        )
    out.print(f"workspaces under {home}")
    out.print(table)
    if not all(s.ok for s in states):
        out.print("run [bold]tenure agents init[/bold] to create or repair the workspaces")


if __name__ == "__main__":
    app()
