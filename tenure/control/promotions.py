"""Promotion events: what the gates decided (and what the user overrode), and the state they add up to.

Events are appended to the score log (``events``) and never edited: the promotion state of a task type
is its latest promote/demote event, so it can be rebuilt, audited and explained at any time. A
``promoted`` model pinned in ``tenure.toml`` applies until the first event for its type. What counts as
evidence, and what the gate says on it, is ``tenure.control.evidence``'s; ``review`` turns that and the
current state into the events due now, which ``promotion_check`` records and ``tenure scores`` shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from tenure.config import TenureConfig
from tenure.control import task_types
from tenure.control.evidence import Reading, canary_readings, shadow_readings
from tenure.control.gates import Decision
from tenure.model_ids import parse_model_id
from tenure.store import EventRow, ScoreLog

__all__ = [
    "Event",
    "Review",
    "State",
    "check",
    "current_state",
    "override",
    "record_events",
    "review",
]

Action = Literal["promote", "demote", "reject"]


@dataclass(frozen=True)
class Event:
    task_type: str
    model: str
    action: Action
    actor: str
    """gate | drift | user:NAME"""
    reason: str
    evidence: dict[str, Any]


@dataclass(frozen=True)
class State:
    promoted: dict[str, str | None]
    """Per task type, the model answering it (None: the ground truth answers)."""
    promoted_at: dict[str, datetime]
    rejected: set[tuple[str, str]]
    """(task type, model) pairs a gate rejected: no longer shadowed."""

    def candidates(self, config: TenureConfig, task_type: str) -> list[str]:
        """The configured candidates of ``task_type`` still shadowed (a rejected one is not)."""
        return [c for c in config.task_type(task_type).candidates if (task_type, c) not in self.rejected]

    def since_promotion(self) -> dict[str, tuple[str, datetime]]:
        """Task type → (promoted model, when), for the types a recorded event promoted."""
        return {t: (m, self.promoted_at[t]) for t, m in self.promoted.items() if m and t in self.promoted_at}


def record_events(log: ScoreLog, events: list[Event]) -> None:
    """Append events as one segment (the flows then announce them as Prefect events:
    ``tenure.tasks.announce``)."""
    log.append(
        "events",
        [EventRow(task_type=e.task_type, model=e.model, action=e.action, actor=e.actor, reason=e.reason,
                  evidence=e.evidence) for e in events],
    )  # fmt: skip


def current_state(log: ScoreLog, config: TenureConfig) -> State:
    """Promotion state from the events (config pins where a type has none)."""
    promoted = {t: config.task_type(t).promoted for t in (*task_types.names(), *config.task_types)}
    promoted_at: dict[str, datetime] = {}
    rejected: set[tuple[str, str]] = set()
    for event in log.events():
        task_type, model, ts = event.task_type, event.model, event.ts
        if event.action == "promote":
            promoted[task_type] = model
            if ts is not None:
                promoted_at[task_type] = ts
            rejected.discard((task_type, model))
        elif event.action == "demote" and promoted.get(task_type) == model:
            promoted[task_type] = None
            promoted_at.pop(task_type, None)
        elif event.action == "reject":
            rejected.add((task_type, model))
    return State(promoted, promoted_at, rejected)


def override(
    log: ScoreLog, action: Action, model: str, task_type: str, user: str, config: TenureConfig
) -> Event:
    """Record a manual promote / demote / reject by ``user`` (``tenure promote`` and friends); demoting a
    model that is not promoted for the type is refused (ValueError naming what is)."""
    task_types.get(task_type)
    parse_model_id(model)
    if action == "demote" and (promoted := current_state(log, config).promoted.get(task_type)) != model:
        raise ValueError(
            f"{model} is not promoted for {task_type} ({promoted or 'no model'} is); nothing to demote"
        )
    event = Event(task_type, model, action, f"user:{user}", f"manual {action} by {user}", {})
    record_events(log, [event])
    return event


def _evidence(decision: Decision, judge: str) -> dict[str, Any]:
    return {
        "n": decision.n,
        "mean": round(decision.mean, 6),
        "bound": None if decision.bound is None else round(decision.bound, 6),
        "policy": decision.policy,
        "params": decision.params,
        "judge": judge,
    }


@dataclass(frozen=True)
class Review:
    """The evidence read by the rules, the promotion state, and the events due now."""

    state: State
    readings: list[Reading]
    """Every shadow stream (evidence or shown only)."""
    canaries: list[Reading]
    """The drift test of each promoted model."""
    due: list[tuple[Reading, Event]] = field(default_factory=list)
    """The events the evidence calls for now, each with the reading that calls for it."""

    @property
    def events(self) -> list[Event]:
        return [event for _, event in self.due]

    def event_for(self, reading: Reading) -> Event | None:
        return next((event for r, event in self.due if r is reading), None)


def review(log: ScoreLog, config: TenureConfig) -> Review:
    """What the evidence calls for now: promotions and rejections of candidates (one promotion per type
    per review), and demotions of promoted models whose canaries drifted below the bar."""
    state = current_state(log, config)
    readings = shadow_readings(log, config)
    canaries = canary_readings(log, config, state.since_promotion())
    due: list[tuple[Reading, Event]] = []
    promoting: dict[str, str] = {}
    for reading in readings:
        s, decision = reading.stream, reading.decision
        if decision is None or decision.action not in ("promote", "reject"):
            continue
        if (
            state.promoted.get(s.task_type)
            or s.task_type in promoting
            or (s.task_type, s.model) in state.rejected
        ):
            continue
        reason = f"{decision.policy} gate on {s.n} {s.judge} scores (mean {decision.mean:.3f})"
        action: Action = "promote" if decision.action == "promote" else "reject"
        due.append(
            (reading, Event(s.task_type, s.model, action, "gate", reason, _evidence(decision, s.judge)))
        )
        if action == "promote":
            promoting[s.task_type] = s.model
    for reading in canaries:
        s, decision = reading.stream, reading.decision
        if decision is not None and decision.action == "demote":
            bar = decision.params["bar"]
            reason = (
                f"canary drift: {s.n} {s.judge} scores since promotion, mean {decision.mean:.3f} < bar {bar}"
            )
            due.append(
                (
                    reading,
                    Event(s.task_type, s.model, "demote", "drift", reason, _evidence(decision, s.judge)),
                )
            )
    return Review(state, readings, canaries, due)


def check(log: ScoreLog, config: TenureConfig) -> list[Event]:
    """Record the events the evidence calls for now (``promotion_check``, ``tenure promotions --check``)."""
    with log.reading() as reader:
        events = review(reader, config).events
    if events:
        record_events(log, events)
    return events
