"""Links from a trace back to the Prefect UI, added to every flow-run span as it starts.

Prefect opens a span per flow and task run (``prefect.run.id``, ``prefect.run.type``) once a tracer
provider exists; this processor adds where that run is seen: ``{ui}/runs/flow-run/{id}``. The UI is
``PREFECT_UI_URL``, else the API URL without its ``/api`` (as Prefect derives it); a run on a temporary
server has neither, and no link.
"""

from __future__ import annotations

import os

from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span, SpanProcessor

from tenure.config import ui_url

__all__ = ["FlowRunLinks", "prefect_ui_url"]


def prefect_ui_url() -> str | None:
    """The Prefect UI this process reports to, if it knows one."""
    if ui := os.environ.get("PREFECT_UI_URL"):
        return ui.rstrip("/")
    if api := os.environ.get("PREFECT_API_URL"):
        return ui_url(api)
    return None


class FlowRunLinks(SpanProcessor):
    """Adds ``tenure.flow_run.url`` to flow-run spans."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        attributes = span.attributes or {}
        if attributes.get("prefect.run.type") == "flow" and (ui := prefect_ui_url()):
            span.set_attribute(
                "tenure.flow_run.url", f"{ui}/runs/flow-run/{attributes.get('prefect.run.id')}"
            )
