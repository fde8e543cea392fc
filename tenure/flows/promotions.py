"""``promotion_check``: record the promotions, rejections and demotions the evidence calls for now."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import flow, get_run_logger

from tenure.control.promotions import check
from tenure.runtime import runtime

__all__ = ["promotion_check"]


@flow(name="promotion_check")
def promotion_check() -> list[dict[str, Any]]:
    """Promote, reject or demote where the evidence now says so; every event reaches the hooks."""
    rt = runtime()
    events = check(rt.log, rt.config)
    logger = get_run_logger()
    for event in events:
        logger.info("%s %s for %s: %s", event.action, event.model, event.task_type, event.reason)
    return [asdict(e) for e in events]
