"""``promotion_check``: record the promotions, rejections and demotions the evidence calls for now,
announce each as a Prefect event, and leave the decisions with their evidence as an artifact."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Any

from prefect import flow, get_run_logger

from tenure.control.promotions import Event, check
from tenure.runtime import runtime
from tenure.tasks.announce import PAST, announce
from tenure.tasks.ui import label, markdown_table, publish_markdown, rename

__all__ = ["decisions_markdown", "promotion_check"]


def _summary(events: list[Event]) -> str:
    if not events:
        return "no change"
    if len(events) <= 2:
        return "; ".join(f"{PAST[e.action]} {e.model} for {e.task_type}" for e in events)
    return ", ".join(f"{n} {PAST[action]}" for action, n in sorted(Counter(e.action for e in events).items()))


def decisions_markdown(events: list[Event]) -> str:
    """The decisions as a person reads them in the UI: what, for which type, by whom, on what evidence."""
    if not events:
        return ("**No change.** No gate or drift test calls for a promotion, rejection or demotion now; "
                "`tenure scores` shows where each stream stands.")  # fmt: skip
    rows = [
        {"decision": PAST[e.action], "task type": e.task_type, "model": e.model, "by": e.actor,
         "n": e.evidence.get("n"), "mean": e.evidence.get("mean"), "bound": e.evidence.get("bound"),
         "policy": e.evidence.get("policy"), "judge": e.evidence.get("judge"), "reason": e.reason}
        for e in events
    ]  # fmt: skip
    return f"**{_summary(events)}**\n\n{markdown_table(rows)}"


@flow(name="promotion_check")
def promotion_check() -> list[dict[str, Any]]:
    """Promote, reject or demote where the evidence now says so; every decision becomes a Prefect event."""
    rt = runtime()
    events = check(rt.log, rt.config)
    announce(events)
    logger = get_run_logger()
    for event in events:
        logger.info("%s %s for %s: %s", event.action, event.model, event.task_type, event.reason)
    label(task_type=sorted({e.task_type for e in events}), model=sorted({e.model for e in events}))
    rename(f"promotion_check: {_summary(events)}")
    publish_markdown(
        "promotion-decisions", decisions_markdown(events), "What promotion_check decided, on what evidence"
    )
    return [asdict(e) for e in events]
