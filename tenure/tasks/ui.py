"""What a flow run shows in the Prefect UI: tags to filter by (``task_type:…``, ``model:…``, ``agent:…``,
``source:…``), a name that says what the run did once it knows, and artifacts a person reads.

Each helper acts on the current flow run and does nothing outside one (a flow called as a plain function
in a test, say). They are best-effort: a run's result never depends on its label.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from prefect import get_client
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run

__all__ = ["label", "markdown_table", "publish_markdown", "publish_table", "rename"]


def _current() -> UUID | None:
    run_id = flow_run.get_id()
    return UUID(run_id) if run_id else None


def label(**tags: str | Iterable[str] | None) -> None:
    """Add ``kind:value`` tags to the current flow run (``label(task_type="summarize", model=[…])``)."""
    run_id = _current()
    if run_id is None:
        return
    wanted = []
    for kind, values in tags.items():
        for value in [values] if isinstance(values, str) else (values or []):
            wanted.append(f"{kind}:{value}")
    with get_client(sync_client=True) as client:
        existing = list(client.read_flow_run(run_id).tags)
        merged = existing + [t for t in dict.fromkeys(wanted) if t not in existing]
        if merged != existing:
            client.update_flow_run(run_id, tags=merged)


def rename(name: str) -> None:
    """Rename the current flow run after the fact, to say what it did."""
    run_id = _current()
    if run_id is not None:
        with get_client(sync_client=True) as client:
            client.update_flow_run(run_id, name=name)


def publish_table(key: str, columns: dict[str, list[Any]], description: str) -> None:
    """A table artifact under ``key`` (each run adds a version; the UI lists the latest); by columns, so
    an empty table still shows its headers."""
    if _current() is not None:
        # async_dispatch runs the sync path on _sync=True even inside an event loop; its typing hides it
        create_table_artifact(table=columns, key=key, description=description, _sync=True)  # pyright: ignore[reportCallIssue]


def publish_markdown(key: str | None, markdown: str, description: str) -> None:
    """A markdown artifact under ``key``, or on the flow run's page only (``None``)."""
    if _current() is not None:
        create_markdown_artifact(markdown=markdown, key=key, description=description, _sync=True)  # pyright: ignore[reportCallIssue]


def markdown_table(rows: Iterable[Mapping[str, Any]]) -> str:
    """Rows as a markdown table (columns from the first row); ``|`` and newlines in cells escaped."""
    rows = list(rows)
    if not rows:
        return "_none_"
    columns = list(rows[0])

    def cell(value: Any) -> str:
        return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)
