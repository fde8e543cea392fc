"""``vault_embed``: one incremental pass over the vault, nightly from ``prefect.yaml`` or on demand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from tenure.memory.index import Report, batches
from tenure.runtime import runtime
from tenure.store.vault import VaultStore
from tenure.tasks.ui import markdown_table, publish_markdown, rename
from tenure.tasks.vault import finish_pass, index_files, plan_pass

__all__ = ["Progress", "vault_embed"]

Progress = Callable[[int, int, Report], None]
"""Called after each batch with (notes done, notes to do, report so far): the CLI's progress bar."""


@flow(name="vault_embed")
def vault_embed(
    vault: str | None = None, full: bool = False, index: str | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Index what changed in ``vault`` (default: ``vault.path`` from the config); ``full`` rebuilds.

    ``index`` is the index directory (default ``$TENURE_HOME/vault_index``; the demo keeps its own).

    Returns the change report: notes and chunks new / updated / unchanged / removed, chunks
    embedded, notes skipped, and every warning (each names its file).
    """
    rt = runtime()
    settings = rt.config.vault
    logger = get_run_logger()
    source = vault or settings.path
    if source is None:  # the nightly run on a machine with no vault yet
        message = "no vault to index: set vault.path in tenure.toml (or run tenure vault index PATH)"
        logger.warning(message)
        rename("vault_embed: no vault configured")
        return {"vault": None, **Report().counts(), "warnings": [message]}
    root = Path(source).expanduser()
    store = VaultStore(Path(index)) if index else VaultStore.for_home(rt.home)
    started = dt.datetime.now(dt.UTC)
    with store.writer():
        todo = plan_pass(root, store, settings, full)
        report = Report(notes_unchanged=todo.unchanged, warnings=list(todo.warnings))
        groups = batches(todo.todo, settings)
        logger.info(
            "%s: %d notes to read in %d batches, %d unchanged",
            root,
            len(todo.todo),
            len(groups),
            todo.unchanged,
        )
        done = 0
        for number, files in enumerate(groups, 1):
            report += index_files(number, todo.root, files, todo.known, store, settings)
            done += len(files)
            if progress:
                progress(done, len(todo.todo), report)
        report = finish_pass(todo, report, store, settings, started)
    for warning in report.warnings:
        logger.warning(warning)
    logger.info("vault_embed: %s", report.counts())
    _publish(root, report)
    return {"vault": str(root), **report.counts(), "warnings": report.warnings}


def _publish(root: Path, report: Report) -> None:
    """Name the run for what changed and leave the index report as the ``vault-index`` artifact."""
    r = report
    changed = f"{r.notes_new} new, {r.notes_updated} updated, {r.notes_removed} removed"
    rename(f"vault_embed: {changed}, {r.notes_unchanged} unchanged")
    counts = [{"": k.replace("_", " "), "count": v} for k, v in r.counts().items()]
    warnings = "\n".join(f"- `{w.replace('`', chr(39))}`" for w in r.warnings) or "_none_"
    text = f"**{root}**: {changed}\n\n{markdown_table(counts)}\n\n#### Warnings\n\n{warnings}"
    publish_markdown("vault-index", text, f"vault_embed of {root}")
