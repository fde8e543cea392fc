"""``tenure ask``: the team answers (an agent turn), or one model or chain does."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer
from rich.text import Text

from tenure.cli.common import err, fail, load, out
from tenure.cli.render import render_result, render_turn
from tenure.config import ConfigError
from tenure.runtime import Runtime

__all__ = ["ask"]


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
    from tenure.models import CallFailed, ChainUnavailable, call

    if sum(x is not None for x in (model, chain, agent)) > 1:
        fail("--agent, --model and --chain are exclusive: pick one")
    from tenure.agents.turn import check_turn

    rt = load()
    text = sys.stdin.read() if prompt == "-" else prompt
    try:  # before any flow or model starts
        check_turn(agent or rt.config.main_agent, text, thread, rt.config)
    except ValueError as exc:
        fail(str(exc))
    if model is None and chain is None:
        _agent_turn(rt, agent or rt.config.main_agent, text, thread, json_out)
        return
    try:
        result = asyncio.run(
            call(
                text,
                config=rt.config,
                home=rt.home,
                target=model or chain or "default",
                system=system,
                max_tokens=max_tokens,
            )
        )
    except (ConfigError, ValueError) as exc:
        fail(str(exc))
    except ChainUnavailable as exc:
        fail(str(exc), 1)
    except CallFailed as exc:
        err.print(Text(str(exc), style="red"))
        render_result(exc.result, err)
        raise typer.Exit(1) from None
    if json_out:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    answer = Text(str(result.output), style="bold cyan")
    out.print(Text(text) + answer if model and model.startswith("local:") else answer)
    render_result(result)


def _agent_turn(rt: Runtime, agent: str, message: str, thread: str, json_out: bool) -> None:
    """One ``agent_turn`` flow run; exits 2 on bad input, 1 when the turn failed or hit a limit."""
    from tenure.flows.agent_turn import agent_turn

    try:
        with out.status(f"{agent} is thinking…"):
            result = asyncio.run(agent_turn(agent, message, thread))
    except ValueError as exc:
        fail(str(exc))
    if json_out:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
    else:
        render_turn(result, rt.config)
    if result.outcome != "answered":
        raise typer.Exit(1)
