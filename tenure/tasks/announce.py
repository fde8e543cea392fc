"""Promotion decisions as Prefect events, so automations and other processes hear of them.

A decision is recorded in the score log by ``tenure.control.promotions`` (the one source of truth) and
then announced here as ``tenure.promotion.promoted|rejected|demoted`` about the resource
``tenure.task-type.<type>``, with the model as a related resource and the evidence as the payload. The
Prefect UI shows them on its event feed; an automation, or the Telegram channel in another process, can
trigger on them.
"""

from __future__ import annotations

from collections.abc import Iterable

from prefect.events import emit_event

from tenure.control.promotions import Event

__all__ = ["EVENT_PREFIX", "PAST", "announce", "event_name"]

EVENT_PREFIX = "tenure.promotion."
PAST = {"promote": "promoted", "reject": "rejected", "demote": "demoted"}
"""Each action in the past tense: the events' names and how the UI says what happened."""


def event_name(action: str) -> str:
    return EVENT_PREFIX + PAST[action]


def announce(events: Iterable[Event]) -> int:
    """Emit one Prefect event per decision; returns how many were handed to Prefect's event client
    (none when no Prefect API is reachable: the score log still holds them)."""
    sent = 0
    for e in events:
        emitted = emit_event(
            event=event_name(e.action),
            resource={"prefect.resource.id": f"tenure.task-type.{e.task_type}",
                      "prefect.resource.name": e.task_type},
            related=[{"prefect.resource.id": f"tenure.model.{e.model}", "prefect.resource.role": "model",
                      "prefect.resource.name": e.model}],
            payload={"task_type": e.task_type, "model": e.model, "action": e.action, "actor": e.actor,
                     "reason": e.reason, "evidence": e.evidence},
        )  # fmt: skip
        sent += emitted is not None
    return sent
