"""The notebook's main figures as one static HTML page (``tenure report``): each figure a PNG embedded in
the page, so the file opens anywhere, with no Jupyter and nothing fetched."""

from __future__ import annotations

import base64
import html
import inspect
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tenure.analysis import figures, frames
from tenure.config import TenureConfig
from tenure.store import ScoreLog

__all__ = ["Shown", "main_figures", "page", "png"]


@dataclass(frozen=True)
class Shown:
    title: str
    caption: str
    figure: Figure


def _caption(draw: Callable[..., Figure]) -> str:
    return " ".join((inspect.getdoc(draw) or "").split("\n\n")[0].split())


def main_figures(log: ScoreLog, config: TenureConfig, since: datetime = frames.BEGINNING) -> list[Shown]:
    """Every figure of the notebook, drawn from ``log`` (spend and fallbacks since ``since``)."""
    with log.reading() as reader:
        drawn: list[tuple[str, Callable[[Any], Figure], Any]] = [
            ("Scores at a glance", figures.scoreboard, frames.board(reader, config)),
            ("Promotion gates", figures.gates, frames.gate_paths(reader, config)),
            ("Canary drift", figures.canary, frames.canary_paths(reader, config)),
            ("Judges", figures.judges, frames.judge_trust(reader, config)),
            ("Providers", figures.providers, frames.providers(reader, since)),
            ("Spend and savings", figures.spend, frames.spend(reader, since)),
        ]
    return [Shown(title, _caption(draw), draw(data)) for title, draw, data in drawn]


def png(figure: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes, drawn by Agg (no display, no pyplot state)."""
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } .meta { color: #666; margin-top: 0; }
pre.table { font-size: 12px; line-height: 1.25; overflow-x: auto; background: #fafafa; padding: 0.6em; }
figure { margin: 2em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #444; font-size: 14px; margin-top: 0.4em; }
"""


def page(title: str, meta: str, tables: Sequence[tuple[str, str]], shown: Sequence[Shown]) -> str:
    """One self-contained HTML page: ``tables`` as (heading, HTML fragment), then the figures as PNGs."""
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p class='meta'>{html.escape(meta)}</p>",
    ]
    for heading, fragment in tables:
        parts.append(f"<h2>{html.escape(heading)}</h2>{fragment}")
    for s in shown:
        data = base64.b64encode(png(s.figure)).decode("ascii")
        parts.append(
            f"<figure><h2>{html.escape(s.title)}</h2>"
            f'<img src="data:image/png;base64,{data}" alt="{html.escape(s.title)}">'
            f"<figcaption>{html.escape(s.caption)}</figcaption></figure>"
        )
    parts.append(f"<p class='meta'>generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by tenure report</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
