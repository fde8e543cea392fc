"""``tenure demo``: the main job on the embedded defaults, with no keys and no network."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from tenure.cli.common import fail, load, out
from tenure.cli.control import run_golden, show_scores
from tenure.cli.render import render_hits, render_index_report, render_result
from tenure.cli.vault import index_vault
from tenure.resources import data_path

if TYPE_CHECKING:
    from tenure.models import CallResult

__all__ = ["demo"]


def _demo_tasks() -> list[tuple[str, str, list[str]]]:
    """Three few-shot completions a base model can answer: (name, prompt, stop sequences)."""
    from tenure.models.local import few_shot_prompt

    return [
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


DEMO_QUERIES = ("why did I move the home server to Proxmox?", "Sofia Márquez")


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
    from tenure.memory.search import search
    from tenure.models import CallFailed, ChainUnavailable, call
    from tenure.store.vault import VaultStore

    rt = load()
    out.rule("[bold]tenure demo[/bold] · the model layer")
    out.print(f"chain [bold]{chain}[/bold]: {' → '.join(rt.config.chain(chain))}")

    async def run_all() -> list[CallResult]:
        results = []
        for task, prompt, stop in _demo_tasks():
            with out.status(f"{task}: asking the chain…"):
                result = await call(
                    prompt, config=rt.config, home=rt.home, target=chain, max_tokens=12, stop=stop
                )
            results.append(result)
            out.print(f"\n[bold]{task}[/bold]")
            out.print(Text(prompt.splitlines()[-1]) + Text(str(result.output), style="bold cyan"))
            render_result(result)
        return results

    try:
        results = asyncio.run(run_all())
    except (ChainUnavailable, CallFailed) as exc:
        fail(str(exc), 1)
    total = sum(r.cost_usd or 0.0 for r in results)
    served = sorted({r.served_by or "-" for r in results})
    out.rule()
    out.print(f"{len(results)} calls, served by {', '.join(served)}, total cost ${total:.6f}")

    out.rule("[bold]tenure demo[/bold] · shadow evaluation of the golden set")
    run_golden(rt, None, limit, ["local:gemma-3-270m"], replay=replay)
    show_scores(rt)
    out.print(
        f'score log: {rt.log.root}  (try: tenure sql "select task_type, count(*) from scores group by 1")'
    )

    out.rule("[bold]tenure demo[/bold] · semantic memory over the sample vault")
    index = rt.home / "demo" / "vault_index"  # never the user's own index
    render_index_report(index_vault(rt, data_path("vault"), index=index))
    for query in DEMO_QUERIES:
        out.print(f"\n[bold]tenure vault search[/bold] {query!r}")
        render_hits(search(VaultStore(index), query, 3), as_json=False)
    out.print('\nyour own vault: tenure vault index PATH, then tenure vault search "…"')
