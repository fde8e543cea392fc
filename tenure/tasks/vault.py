"""Prefect tasks of the vault index: plan a pass, index one batch, finish (deletions, indexes, record).

One task run per batch of about ``vault.batch_chunks`` chunks, never one per note: a first index of
10,000 notes is a few hundred task runs, and a retried batch redoes only its own notes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from tenure.config import VaultConfig
from tenure.memory.embed import release
from tenure.memory.index import Plan, Report, finished_pass, index_batch, plan, remove_deleted, start_pass
from tenure.memory.notes import FileState
from tenure.store.vault import NoteState, VaultStore

__all__ = ["finish_pass", "index_files", "plan_pass"]


@task(name="plan_vault_pass", cache_policy=NO_CACHE)
def plan_pass(root: Path, store: VaultStore, config: VaultConfig, full: bool) -> Plan:
    """What changed since the last pass; empties the index first when the pass starts from nothing."""
    todo = plan(root, store, config, full=full)
    start_pass(todo, store)
    return todo


@task(
    name="index_batch",
    task_run_name="index_batch/{number}",
    retries=2,
    retry_delay_seconds=[5, 30],
    cache_policy=NO_CACHE,
)
def index_files(
    number: int,
    root: Path,
    files: list[FileState],
    known: dict[str, NoteState],
    store: VaultStore,
    config: VaultConfig,
) -> Report:
    return index_batch(root, files, known, store, config)


@task(name="finish_vault_pass", retries=2, retry_delay_seconds=[5, 30], cache_policy=NO_CACHE)
def finish_pass(
    vault_plan: Plan, report: Report, store: VaultStore, config: VaultConfig, started: dt.datetime
) -> Report:
    """Remove deleted notes, refresh the full-text and vector indexes, record the pass."""
    report += remove_deleted(vault_plan, store)
    release()  # the model's memory goes to the index builds (a 10k-note pass peaked at the HNSW build)
    store.refresh(config.ann_min_chunks)
    store.record_run(finished_pass(vault_plan, report, config, started=started))
    return report
