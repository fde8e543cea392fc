"""``promotion_check``: apply the gates to the evidence and record what they decide."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import flow, get_run_logger

from tenure.config import load_config
from tenure.control.promotions import check, record
from tenure.tasks.control import score_log

__all__ = ["promotion_check"]


@flow(name="promotion_check")
def promotion_check() -> list[dict[str, Any]]:
    """Promote, reject or demote where the evidence now says so; every event reaches the hooks."""
    log = score_log()
    events = check(log, load_config())
    if events:
        record(log, events)
    logger = get_run_logger()
    for event in events:
        logger.info("%s %s for %s: %s", event.action, event.model, event.task_type, event.reason)
    return [asdict(e) for e in events]
