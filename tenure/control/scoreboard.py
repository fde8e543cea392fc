"""The scoreboard ``tenure scores`` shows: every score stream as the promotion rules read it.

Each row is a candidate × task type × judge with n, mean and std; the gate's bound and decision where the
stream is evidence; its status in words (promoted, due to be promoted at the next check, collecting,
shown only and why); judge failures; and a paused judge budget. It is built from the same ``review``
that ``promotion_check`` acts on, so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tenure.config import TenureConfig
from tenure.control.budget import paused_types
from tenure.control.evidence import Reading
from tenure.control.promotions import Review, review
from tenure.store import ScoreLog

__all__ = ["BoardRow", "scoreboard"]


@dataclass(frozen=True)
class BoardRow:
    model: str
    task_type: str
    judge: str
    judge_kind: str
    n: int
    mean: float
    std: float
    last_update: datetime | None
    use: str
    """evidence (the gate reads it), canary (the drift test reads it) or shown (nothing does)."""
    policy: str | None
    bound: float | None
    decision: str | None
    runs_needed: int | None
    status: str
    """promoted, rejected, promote or reject (due at the next check), demote, waiting, collecting,
    watching (a canary stream) or shown."""
    detail: str
    note: str
    """What the evidence rules noted: why a stream is shown only, or how a judge's calibration moved
    the gate."""
    judge_failures: int
    paused: str | None


def _status(reading: Reading, board: Review) -> tuple[str, str]:
    s, decision = reading.stream, reading.decision
    if reading.use == "shown" or decision is None:
        return "shown", reading.note
    event = board.event_for(reading)
    if event is not None:
        return event.action, "due at the next promotion_check"
    if reading.use == "canary":
        return "watching", reading.note
    serving = board.state.promoted.get(s.task_type)
    if serving == s.model:
        return "promoted", f"serves {s.task_type}"
    if (s.task_type, s.model) in board.state.rejected:
        return "rejected", "no longer shadowed"
    if decision.action in ("promote", "reject"):
        return "waiting", f"{serving} serves {s.task_type}" if serving else "another candidate goes first"
    return "collecting", f"~{reading.runs_needed} more runs" if reading.runs_needed is not None else ""


def scoreboard(log: ScoreLog, config: TenureConfig) -> list[BoardRow]:
    """Every shadow and canary stream in the log, with what the promotion rules make of it."""
    with log.reading() as reader:
        board = review(reader, config)
        failures = reader.judge_failures()
        readings = [*board.readings, *board.canaries]
        paused = paused_types(reader, config, sorted({r.stream.task_type for r in readings}))
    rows = []
    for reading in readings:
        s, decision = reading.stream, reading.decision
        status, detail = _status(reading, board)
        rows.append(
            BoardRow(
                model=s.model,
                task_type=s.task_type,
                judge=s.judge,
                judge_kind=s.judge_kind,
                n=s.n,
                mean=s.mean,
                std=s.std,
                last_update=s.last_update,
                use=reading.use,
                policy=decision.policy if decision else None,
                bound=decision.bound if decision else None,
                decision=decision.action if decision else None,
                runs_needed=reading.runs_needed,
                status=status,
                detail=detail,
                note="" if reading.use == "shown" else reading.note,
                judge_failures=failures.get((s.model, s.task_type), 0),
                paused=paused.get(s.task_type),
            )
        )
    return sorted(rows, key=lambda r: (r.model, r.task_type, r.use != "evidence", r.judge))
