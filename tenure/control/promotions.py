"""Promotion events: what the gates decided (and what the user overrode), and the state they add up to.

Events are appended to the score log (``events``) and never edited: the promotion state of a task type is
its latest promote/demote event, so it can be rebuilt, audited and explained at any time. A ``promoted``
model pinned in ``tenure.toml`` applies until the first event for its type.

Evidence: the type's primary judge only, never pooled across judge kinds (deterministic where the type
has one, else the LLM judge; the offline heuristic judge is a stand-in for display and never promotes).
Shadow scores feed the promotion gate; canary scores since the promotion feed the drift detector.
Checking the sufficient statistics (sum, count) on a schedule is valid for the sequential gate: its
guarantee holds at every time, so at any subset of times.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tenure.control.gates import Decision, gate_from_settings, make_drift_detector
from tenure.control.tasks import TASK_TYPES
from tenure.store import ScoreLog, new_id

if TYPE_CHECKING:
    from tenure.config import TenureConfig

__all__ = ["Event", "State", "check", "current_state", "on_event", "record"]

EVIDENCE_SQL = """
    WITH demoted AS (
        SELECT task_type, model, max(ts) AS since FROM events WHERE action = 'demote' GROUP BY ALL
    )
    SELECT s.candidate, s.task_type, s.judge, s.judge_kind, count(*), sum(s.score)
    FROM scores s LEFT JOIN demoted d ON d.task_type = s.task_type AND d.model = s.candidate
    WHERE s.status = 'ok' AND s.source <> 'canary' AND (d.since IS NULL OR s.ts > d.since)
    GROUP BY ALL ORDER BY s.task_type, s.candidate, s.judge
"""
"""Shadow evidence per model × type × judge; a demoted model starts again from its demotion."""


@dataclass(frozen=True)
class Event:
    task_type: str
    model: str
    action: str
    """promote | demote | reject"""
    actor: str
    """gate | drift | user:NAME"""
    reason: str
    evidence: dict[str, Any]


@dataclass(frozen=True)
class State:
    promoted: dict[str, str | None]
    """Per task type, the model answering it (None: the ground truth answers)."""
    promoted_at: dict[str, Any]
    rejected: set[tuple[str, str]]
    """(task type, model) pairs a gate rejected: no longer shadowed."""


_hooks: list[Callable[[Event], None]] = []


def on_event(hook: Callable[[Event], None]) -> Callable[[], None]:
    """Register a callable run for every recorded event (the Telegram channel uses this); returns a
    function that unregisters it."""
    _hooks.append(hook)
    return lambda: _hooks.remove(hook)


def record(log: ScoreLog, events: list[Event]) -> None:
    """Append events as one segment, then tell every hook."""
    log.append(
        "events",
        [
            {
                "event_id": new_id(),
                "task_type": e.task_type,
                "model": e.model,
                "action": e.action,
                "actor": e.actor,
                "reason": e.reason,
                "evidence": json.dumps(e.evidence, default=str),
            }
            for e in events
        ],
    )
    for event in events:
        for hook in _hooks:
            hook(event)


def current_state(log: ScoreLog, config: TenureConfig) -> State:
    """Promotion state from the events (config pins where a type has none)."""
    promoted = {t: s.promoted for t, s in config.task_types.items()}
    promoted_at: dict[str, Any] = {}
    rejected: set[tuple[str, str]] = set()
    for event in log.rows("events"):
        task_type, model, action, ts = event["task_type"], event["model"], event["action"], event["ts"]
        if action == "promote":
            promoted[task_type], promoted_at[task_type] = model, ts
            rejected.discard((task_type, model))
        elif action == "demote" and promoted.get(task_type) == model:
            promoted[task_type] = None
            promoted_at.pop(task_type, None)
        elif action == "reject":
            rejected.add((task_type, model))
    return State(promoted, promoted_at, rejected)


def _primary_judge_kind(task_type: str) -> str:
    return "deterministic" if TASK_TYPES[task_type].judge else "llm"


def _evidence(decision: Decision, judge: str) -> dict[str, Any]:
    return {
        "n": decision.n,
        "mean": round(decision.mean, 6),
        "bound": None if decision.bound is None else round(decision.bound, 6),
        "policy": decision.policy,
        "params": decision.params,
        "judge": judge,
    }


def check(log: ScoreLog, config: TenureConfig) -> list[Event]:
    """New events the evidence calls for now: promotions and rejections of candidates, and demotions of
    promoted models whose canaries drifted below the bar."""
    state = current_state(log, config)
    events: list[Event] = []
    _, rows = log.query(EVIDENCE_SQL)
    for model, task_type, judge, kind, n, total in rows:
        settings = config.task_types.get(task_type)
        if settings is None or kind != _primary_judge_kind(task_type):
            continue
        if state.promoted.get(task_type) is not None or (task_type, model) in state.rejected:
            continue
        decision = gate_from_settings(settings.gate).assess(total, n)
        if decision.action in ("promote", "reject"):
            reason = f"{decision.policy} gate on {n} {judge} scores (mean {decision.mean:.3f})"
            events.append(
                Event(task_type, model, decision.action, "gate", reason, _evidence(decision, judge))
            )
            if decision.action == "promote":
                state.promoted[task_type] = model  # one promotion per type per check
    for task_type, model in state.promoted.items():
        since = state.promoted_at.get(task_type)
        if model is None or since is None:
            continue
        _, canary = log.query(
            "SELECT judge, count(*), sum(score) FROM scores WHERE status = 'ok' AND source = 'canary' "
            "AND task_type = ? AND candidate = ? AND judge_kind = ? AND ts > ? GROUP BY judge",
            [task_type, model, _primary_judge_kind(task_type), since],
        )
        bar = config.task_types[task_type].gate.bar  # type: ignore[index]
        for judge, n, total in canary:
            decision = make_drift_detector(bar=bar).assess(total, n)
            if decision.action == "demote":
                reason = (
                    f"canary drift: {n} {judge} scores since promotion, mean {decision.mean:.3f} < bar {bar}"
                )
                events.append(Event(task_type, model, "demote", "drift", reason, _evidence(decision, judge)))
    return events
