"""``tenure agents``: lay out the team's workspaces, see who is who."""

from __future__ import annotations

import typer
from rich.table import Table

from tenure.cli.common import err, load, out
from tenure.config import AgentConfig

__all__ = ["agents_app"]

agents_app = typer.Typer(help="The team: lay out their workspaces, see who is who.", no_args_is_help=True)


@agents_app.command("init")
def agents_init() -> None:
    """Create or repair every agent's workspace (SOUL.md, AGENTS.md, links to the shared items).

    Safe to rerun: it never overwrites a persona file and refuses to replace a real file or folder
    where a link belongs."""
    from tenure.agents.workspace import WorkspaceError, init_workspaces

    rt = load()
    try:
        done = init_workspaces(rt.home, rt.config)
    except WorkspaceError as exc:
        err.print("[red]cannot lay out the workspaces[/red] (nothing was changed):")
        for line in str(exc).splitlines():
            err.print(f"  {line}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    for line in done:
        out.print(line, highlight=False)
    out.print("workspaces are up to date" if not done else f"{len(done)} change(s)")


def walls(a: AgentConfig) -> list[str]:
    """The settings of the agent's walled tools, one line each (only for tools it has)."""
    lines = []
    if {"read_file", "list_files", "write_file"} & set(a.tools):
        lines.append(f"files: {', '.join(a.files.folders)}; writes ≤ {a.files.max_write_bytes:,} bytes")
    if {"run_python", "run_tests"} & set(a.tools):
        p = a.run_python
        lines.append(f"sandbox: {p.timeout_s:g} s, {p.memory_mb:,} MB, output ≤ {p.max_output_chars:,} chars")
    if "fetch_url" in a.tools:
        f = a.fetch_url
        lines.append(
            f"web: {', '.join(f.domains) or 'no domain'}; ≤ {f.max_bytes:,} bytes, {f.timeout_s:g} s"
        )
    if "query_scores" in a.tools:
        q = a.query_scores
        lines.append(f"scores: ≤ {q.max_rows:,} rows, {q.timeout_s:g} s")
    return lines


@agents_app.command("list")
def agents_list() -> None:
    """Each agent with its role, model chain, tools (and their walls), limits and the state of its
    workspace."""
    from tenure.agents.workspace import inspect

    rt = load()
    states = inspect(rt.home, rt.config)
    table = Table("agent", "chain", "tools · limits", "workspace")
    for state in states:
        a = rt.config.agents[state.agent]
        models = rt.config.chain(a.chain)
        problems = [f"{link.item} {link.status}" for link in state.links if link.status != "ok"]
        problems += [f"{f} missing" for f, present in state.persona.items() if not present]
        shown = "[green]ok[/green]" if state.ok else "[yellow]" + ", ".join(problems) + "[/yellow]"
        table.add_row(
            f"{a.emoji} [bold]{state.agent}[/bold]"
            + (" (main)" if state.agent == rt.config.main_agent else "")
            + f"\n[dim]{a.role}[/dim]",
            f"{a.chain}: {models[0]}" + (f" → … → {models[-1]}" if len(models) > 1 else ""),
            (", ".join(a.tools) or "no tools")
            + "".join(f"\n{line}" for line in walls(a))
            + f"\n[dim]{a.limits.max_requests} requests, {a.limits.max_tool_calls} tool calls, "
            f"{a.limits.max_tokens:,} tokens, ${a.limits.max_usd:g}[/dim]",
            f"{state.path.name}/ {shown}",
        )
    out.print(f"workspaces under {rt.home}")
    out.print(table)
    if not all(s.ok for s in states):
        out.print("run [bold]tenure agents init[/bold] to create or repair the workspaces")
