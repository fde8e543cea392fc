"""``tenure notebook`` and ``tenure report``: the score log analysed, in Jupyter or as one static page.

Both need the ``analysis`` extra (matplotlib; Jupyter for the notebook) and say how to install it when
it is missing."""

from __future__ import annotations

import io
import os
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, RenderableType

from tenure.cli.common import err, fail, load, out
from tenure.cli.cost import ledger_tables, since_time
from tenure.cli.render import scores_table

__all__ = ["notebook", "report"]


def _require(command: str, *modules: str) -> None:
    from tenure.analysis import INSTALL, missing

    if absent := missing(*modules):
        fail(f"tenure {command} needs {', '.join(absent)}: install with {INSTALL}", 1)


def notebook(
    jupyter_args: Annotated[
        list[str] | None,
        typer.Argument(
            help="Passed on to jupyter lab, after --: tenure notebook -- --no-browser --port 8890"
        ),
    ] = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Replace your copy with the shipped notebook.")
    ] = False,
) -> None:
    """Open the scores notebook in JupyterLab, reading this TENURE_HOME's score log.

    The first time, the notebook is copied to $TENURE_HOME/notebooks/scores.ipynb and opened there, so
    your edits and outputs stay out of the package; --fresh copies the shipped one again."""
    from tenure.analysis import notebook_path

    rt = load()
    _require("notebook", "jupyterlab", "ipykernel", "matplotlib")
    shipped, copy = notebook_path(), rt.home / "notebooks" / "scores.ipynb"
    if fresh or not copy.exists():
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shipped, copy)
    elif copy.read_bytes() != shipped.read_bytes():
        err.print(f"opening your copy, {copy}: it differs from the shipped notebook (--fresh replaces it)")
    out.print(f"opening {copy} in JupyterLab with TENURE_HOME={rt.home}")
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(copy.parent)
    env = {**os.environ, "TENURE_HOME": str(rt.home)}
    argv = [sys.executable, "-m", "jupyterlab", copy.name, *(jupyter_args or [])]
    os.execve(sys.executable, argv, env)  # Jupyter takes over this process (and its Ctrl-C)


def _html(*renderables: RenderableType) -> str:
    """Rich tables as the terminal shows them, as one HTML ``<pre>`` block with inline colours."""
    console = Console(
        record=True, file=io.StringIO(), width=130, force_terminal=True, color_system="truecolor"
    )
    for renderable in renderables:
        console.print(renderable)
    return console.export_html(inline_styles=True, code_format='<pre class="table"><code>{code}</code></pre>')


def report(
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the page.")] = Path("report.html"),
    since: Annotated[
        str, typer.Option(help="How far back the ledger, spend and providers go: 30d, 12h.")
    ] = "30d",
) -> None:
    """Write the scoreboard, the cost ledger and the scores notebook's figures as one static HTML page
    (figures embedded as PNG), to read without Jupyter."""
    _require("report", "matplotlib")
    from tenure.analysis.page import main_figures, page
    from tenure.control.costs import ledger
    from tenure.control.scoreboard import scoreboard

    rt = load()
    start = since_time(since)
    with rt.log.reading() as reader:
        rows = scoreboard(reader, rt.config)
        book = ledger(reader, rt.config, start)
        shown = main_figures(reader, rt.config, start)
    tables = [("Scoreboard", _html(scores_table(rows))), ("Ledger", _html(*ledger_tables(book)))]
    text = page("tenure report", f"score log: {rt.log.root}", tables, shown)
    try:  # whole or not at all: a page being rewritten is never seen half-written
        out_path.parent.mkdir(parents=True, exist_ok=True)
        partial = out_path.with_name(f".{out_path.name}.partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(out_path)
    except OSError as exc:
        fail(f"cannot write {out_path}: {exc.strerror or exc}; choose another --out")
    out.print(
        f"wrote {out_path}: the scoreboard, the ledger and {len(shown)} figures ({len(text) // 1024} KB)"
    )
