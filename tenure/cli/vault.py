"""``tenure vault``: index the notes vault, search it, see its state."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TimeElapsedColumn

from tenure.cli.common import fail, load, out
from tenure.cli.render import render_hits, render_index_report
from tenure.runtime import Runtime

if TYPE_CHECKING:
    from tenure.memory.index import Report

__all__ = ["index_vault", "vault_app"]

vault_app = typer.Typer(help="The notes vault: index it, search it, see its state.", no_args_is_help=True)


class SearchMode(StrEnum):
    hybrid = "hybrid"
    vector = "vector"
    keyword = "keyword"


def index_vault(rt: Runtime, root: Path, *, full: bool = False, index: Path | None = None) -> dict[str, Any]:
    """Run ``vault_embed`` in-process with a progress bar; exits with a clear message on a busy index."""
    from tenure.flows.vault_embed import vault_embed
    from tenure.store.vault import IndexBusy

    if root.is_file():
        fail(f"{root} is a file, not a folder: pass the vault's folder (the one holding the .md notes)")
    if not root.is_dir():
        fail(f"vault folder {root} does not exist; pass a folder of .md notes")
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

        def advance(done: int, total: int, report: Report) -> None:
            progress.update(bar, completed=done, total=total, embedded=report.chunks_embedded)

        try:
            return vault_embed(str(root), full=full, index=str(index) if index else None, progress=advance)
        except IndexBusy as exc:
            fail(str(exc), 1)


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
    from tenure.store.vault import VaultStore

    rt = load()
    root = path or rt.config.vault.path
    if root is None:
        fail("no vault given: pass one (tenure vault index PATH) or set vault.path in tenure.toml")
    render_index_report(index_vault(rt, root.expanduser(), full=full))
    out.print(f"index: {VaultStore.for_home(rt.home).root}")


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
    from tenure.config import Env
    from tenure.memory.search import search
    from tenure.store.vault import VaultStore

    if not query.strip():
        fail("the query is empty: say what you are looking for, e.g. tenure vault search 'ssh keys'")
    # only the home: a search reads the index, runs no flow and needs no config (a cold search is short)
    store = VaultStore.for_home(Env().home)
    if not store.exists():
        fail(f"no vault index at {store.root}: run tenure vault index PATH first", 1)
    try:
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
    except ValueError as exc:
        fail(str(exc), 2)
    render_hits(hits, json_out)


@vault_app.command("status")
def vault_status() -> None:
    """Notes and chunks in the index, the last run, and files changed on disk since then."""
    from tenure.memory.index import changes
    from tenure.store.vault import VaultStore

    rt = load()
    store = VaultStore.for_home(rt.home)
    last = store.last_run() if store.exists() else None
    if last is None:
        out.print(f"no vault index at {store.root} yet: run tenure vault index PATH")
        raise typer.Exit(1)
    states = store.note_states()
    skipped = sorted(p for p, s in states.items() if s.status == "skipped")
    out.print(f"index    {store.root}")
    out.print(f"vault    {last.vault}")
    out.print(f"notes    {len(states) - len(skipped)} indexed, {len(skipped)} skipped")
    out.print(f"chunks   {store.count_chunks()}")
    counts = f"{last.notes_new} new, {last.notes_updated} updated, {last.notes_removed} removed"
    out.print(
        f"last run {last.finished_at:%Y-%m-%d %H:%M:%S} UTC, {last.seconds:.1f} s"
        + (" (full)" if last.full else "")
        + f": notes {counts}; {last.chunks_embedded} chunks embedded"
    )
    vault = Path(last.vault)
    if not vault.is_dir():
        out.print(f"[yellow]the vault folder {vault} is gone[/yellow]")
        return
    pending = changes(vault, store, rt.config.vault)
    out.print(
        f"stale    {len(pending.changed)} changed, {len(pending.new)} new, {len(pending.deleted)} deleted "
        "since the last run"
    )
    for label, paths in (
        ("changed", pending.changed),
        ("new", pending.new),
        ("deleted", pending.deleted),
        ("skipped", pending.skipped),
    ):
        for p in paths[:10]:
            out.print(f"  [dim]{label}[/dim] {p}", highlight=False)
        if len(paths) > 10:
            out.print(f"  [dim]… and {len(paths) - 10} more {label}[/dim]")
