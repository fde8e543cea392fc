"""What the bot's commands say: short plain-text views of the scoreboard, the promotion events and
``tenure status``, read from the same places the CLI reads them."""

from __future__ import annotations

from typing import Any

from telegram import BotCommand

from tenure.config import TenureConfig
from tenure.control.scoreboard import scoreboard
from tenure.deployments.api import answers
from tenure.deployments.status import read_status
from tenure.store import ScoreLog

__all__ = ["COMMANDS", "help_text", "news_line", "promotions_text", "scores_text", "status_text"]

COMMANDS = [
    BotCommand("help", "what I can do"),
    BotCommand("new", "start a fresh conversation"),
    BotCommand("agent", "who answers here: /agent NAME"),
    BotCommand("scores", "the control plane's scoreboard"),
    BotCommand("promotions", "the last promotion events"),
    BotCommand("status", "server, worker and recent runs"),
]
"""Registered with ``setMyCommands``; ``/start`` answers like ``/help``."""

_PAST = {"promote": "promoted", "reject": "rejected", "demote": "demoted"}


def help_text(config: TenureConfig, agent: str, thread: str) -> str:
    team = ", ".join(f"{name} ({a.role})" if a.role else name for name, a in config.agents.items())
    lines = [f"/{c.command} — {c.description}" for c in COMMANDS]
    return f"{agent} answers here, in thread {thread}.\nThe team: {team}.\n\n" + "\n".join(lines)


def scores_text(log: ScoreLog, config: TenureConfig) -> str:
    rows = scoreboard(log, config)
    if not rows:
        return "No scores yet: shadows are judged as commodity tasks come in (or run tenure eval)."
    return "\n".join(
        f"{r.model} · {r.task_type} · {r.judge}: n={r.n}, mean {r.mean:.3f} — {r.status}"
        + (f" ({r.detail})" if r.detail else "")
        for r in rows[:30]
    )


def promotions_text(log: ScoreLog, last: int = 10) -> str:
    events = log.events()[-last:]
    if not events:
        return "No promotion events yet."
    return "\n".join(
        f"{e.ts:%Y-%m-%d %H:%M} {e.action} {e.model} for {e.task_type} by {e.actor}: {e.reason}"
        for e in reversed(events)
    )


def news_line(payload: dict[str, Any]) -> str:
    """One promotion event as the owner reads it: what happened, and the evidence in one line."""
    evidence = payload.get("evidence") or {}
    facts = [
        f"{k}={evidence[k]}" for k in ("n", "mean", "bound", "policy", "judge") if evidence.get(k) is not None
    ]
    action = _PAST.get(str(payload.get("action")), str(payload.get("action")))
    return (
        f"{payload.get('model')} {action} for {payload.get('task_type')} by {payload.get('actor')}: "
        f"{payload.get('reason')}" + (f"\nEvidence: {', '.join(facts)}" if facts else "")
    )


async def status_text(api_url: str, pool: str) -> str:
    if not answers(api_url):
        return f"No Prefect server answers at {api_url}; start one with: tenure up"
    status = await read_status(api_url, pool, recent=5)
    workers = ", ".join(f"{w.name} {w.status}" for w in status.workers) or "none"
    lines = [f"Prefect: {status.ui_url}", f"Workers: {workers}"]
    lines += [
        f"{d.name}: next {d.next_run:%Y-%m-%d %H:%M}" if d.next_run else f"{d.name}: on demand"
        for d in status.deployments
    ]
    lines += ["", "Recent runs:"] + [f"{r.state} {r.name}" for r in status.recent]
    if status.failed:
        lines += ["", f"Failed in the last 24 h: {len(status.failed)}"] + [r.url for r in status.failed[:5]]
    return "\n".join(lines)
