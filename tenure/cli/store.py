"""``tenure store``: the score log's own health: which segments no reader can use, and moving them aside."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tenure.cli.common import fail, out
from tenure.config import Env

__all__ = ["store_app"]

store_app = typer.Typer(
    help="The score log's segments: check them, move damaged ones aside.", no_args_is_help=True
)


@store_app.command("check")
def check(
    quarantine: Annotated[
        bool,
        typer.Option("--quarantine", help="Move damaged segments to store/quarantine/ (nothing is deleted)."),
    ] = False,
) -> None:
    """Read every row of every segment and list the ones that cannot be read (empty, truncated, not
    Parquet, another table's schema). Readers already skip them, naming each once; this lists them all.

    Exits 1 if damaged segments remain (run again with --quarantine), 0 otherwise. Copies of other
    segments (left by sync tools or restores) are ignored by readers and removed by the next compaction."""
    from tenure.store import segments

    root = Env().home / "store"
    with out.status("reading every segment…"):
        damaged, copies = segments.check(root)
    if copies:
        out.print(f"{len(copies)} copies of other segments are ignored (the nightly compaction removes them)")
    if not damaged:
        out.print(f"[green]ok[/green]: every segment under {root} is readable")
        raise typer.Exit(0)
    table = Table("table", "segment", "problem", title=f"{len(damaged)} damaged segments")
    for segment in damaged:
        table.add_row(segment.path.parent.name, segment.path.name, segment.problem)
    out.print(table)
    if not quarantine:
        fail(
            f"{len(damaged)} damaged segments, which readers skip: "
            "tenure store check --quarantine moves them aside",
            1,
        )
    moved = segments.quarantine(root, [s.path for s in damaged])
    out.print(f"moved {len(moved)} segments to {root / 'quarantine'}")
