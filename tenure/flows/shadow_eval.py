"""``shadow_eval``, ``aggregate_confidence`` and ``compact_store``: the control plane's flows."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from tenure.config import Env, load_config
from tenure.control.gates import gate_from_settings
from tenure.control.promotions import current_state
from tenure.control.shadow import has_instruction_model
from tenure.control.tasks import TASK_TYPES, Task, get_type
from tenure.store import new_id
from tenure.tasks.control import answer_batch, append_rows, judge_batch, score_log

if TYPE_CHECKING:
    from tenure.config import TenureConfig

__all__ = [
    "aggregate_confidence",
    "backtest",
    "canary_eval",
    "compact_store",
    "shadow_eval",
    "shadow_pending",
]


def _shadow_run_name() -> str:
    """``shadow_eval/summarize/ollama:qwen2.5``: the type and the candidates, readable in the UI."""
    params = flow_run.parameters
    task_type = params["task_type"]
    candidates = params.get("candidates") or load_config().task_types[task_type].candidates
    return f"shadow_eval/{task_type}/{','.join(c.removesuffix(':latest') for c in candidates)}"


def budget_reached(task_type: str, config: TenureConfig) -> str | None:
    """Why shadowing ``task_type`` is paused today (its judge budget is spent), or None."""
    budget = config.task_types[task_type].judge_budget_usd  # type: ignore[index]
    spent = score_log().judge_spend_today().get(task_type, 0.0)
    if budget is not None and spent >= budget:
        return f"judge budget for {task_type} reached: ${spent:.2f} of ${budget:.2f} today"
    return None


def _archive_references(tasks: list[Task], source: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Ground-truth rows for tasks that arrive with their reference (golden set, replay)."""
    rows = [
        {
            "run_id": new_id(),
            "task_id": t.id,
            "task_type": t.type,
            "role": "ground_truth",
            "source": source,
            "model": f"reference:{source}",
            "served_by": f"reference:{source}",
            "input": json.dumps(t.input, ensure_ascii=False),
            "output": json.dumps(t.reference, ensure_ascii=False),
            "reference": json.dumps(t.reference, ensure_ascii=False),
        }
        for t in tasks
    ]
    return rows, [r["run_id"] for r in rows]


@flow(name="shadow_eval", flow_run_name=_shadow_run_name)
async def shadow_eval(
    task_type: str,
    tasks: list[Task] | None = None,
    candidates: list[str] | None = None,
    source: str = "live",
    limit: int = 100,
    ground_truth: Literal["reference", "chain", "archive"] = "reference",
    gt_run_ids: list[str] | None = None,
) -> dict[str, dict[str, float]]:
    """Shadow one batch of ``task_type`` with every candidate, judge each answer, log runs and scores.

    With ``tasks`` (golden set, replay) the ground truth is either their references, archived as is
    (``ground_truth="reference"``: no ground-truth calls), or the type's ground-truth chain asked now
    (``"chain"``), or archived ground-truth runs whose outputs the tasks carry (``"archive"``, with
    ``gt_run_ids``: backtests, no new ground-truth calls). Without ``tasks``, the batch is the oldest
    live ground-truth runs each candidate has not shadowed yet (at most ``limit``). Returns, per
    candidate, how many were scored and their mean.
    """
    get_type(task_type)
    config = load_config()
    home = Env().home.expanduser()
    rejected = current_state(score_log(), config).rejected
    chosen = candidates or [
        c for c in config.task_types[task_type].candidates if (task_type, c) not in rejected
    ]
    use_llm = has_instruction_model(config, home)
    logger = get_run_logger()
    summary: dict[str, dict[str, float]] = {}
    if tasks is not None and ground_truth == "chain":
        chain = config.task_types[task_type].ground_truth  # type: ignore[index]
        gt_rows, outputs = await answer_batch(tasks, [None] * len(tasks), chain, source, role="ground_truth")
        append_rows("runs", gt_rows)
        answered = [(t, r, o) for t, r, o in zip(tasks, gt_rows, outputs, strict=True) if r["error"] is None]
        tasks = [t.model_copy(update={"reference": o}) for t, _, o in answered]
        gt_ids = [r["run_id"] for _, r, _ in answered]
    elif tasks is not None and ground_truth == "archive":
        if gt_run_ids is None or len(gt_run_ids) != len(tasks):
            raise ValueError("ground_truth='archive' needs one archived ground-truth run id per task")
        gt_ids = gt_run_ids
    elif tasks is not None:
        gt_rows, gt_ids = _archive_references(tasks, source)
        append_rows("runs", gt_rows)
    for candidate in chosen:
        if paused := budget_reached(task_type, config):
            logger.warning("%s: shadowing paused", paused)
            break
        if tasks is None:
            pending = score_log().pending_shadows(task_type, candidate, limit)
            batch = [
                Task(
                    id=p["task_id"],
                    type=task_type,
                    input=json.loads(p["input"]),
                    reference=json.loads(p["output"]),
                )
                for p in pending
            ]
            batch_ids = [p["run_id"] for p in pending]
        else:
            batch, batch_ids = tasks, gt_ids
        if not batch:
            continue
        runs, outputs = await answer_batch(batch, batch_ids, candidate, source)
        scores = await judge_batch(batch, runs, outputs, candidate, source, use_llm)
        append_rows("runs", runs)
        append_rows("scores", scores)
        judged = [s["score"] for s in scores if s["status"] == "ok"]
        summary[candidate] = {"scored": len(judged), "mean": sum(judged) / len(judged) if judged else 0.0}
        logger.info(
            "%s on %s: %d scored, mean %.3f", candidate, task_type, len(judged), summary[candidate]["mean"]
        )
    return summary


@flow(name="canary_eval", flow_run_name="canary_eval/{task_type}")
async def canary_eval(task_type: str, limit: int = 100) -> dict[str, dict[str, float]]:
    """Check sampled answers of the promoted model against the ground truth, asked now (after the fact).

    The scores (``source = 'canary'``) are what the drift detector in ``promotion_check`` watches.
    """
    get_type(task_type)
    config = load_config()
    home = Env().home.expanduser()
    pending = score_log().pending_canaries(task_type, limit)
    if not pending:
        return {}
    tasks = [Task(id=p["task_id"], type=task_type, input=json.loads(p["input"])) for p in pending]
    chain = config.task_types[task_type].ground_truth  # type: ignore[index]
    gt_rows, gt_outputs = await answer_batch(tasks, [None] * len(tasks), chain, "canary", role="ground_truth")
    append_rows("runs", gt_rows)
    summary: dict[str, dict[str, float]] = {}
    for model in sorted({p["model"] for p in pending}):
        picked = [
            (
                t.model_copy(update={"reference": out}),
                {"run_id": p["run_id"], "gt_run_id": g["run_id"], "error": None},
                json.loads(p["output"]),
            )
            for t, p, g, out in zip(tasks, pending, gt_rows, gt_outputs, strict=True)
            if p["model"] == model and g["error"] is None
        ]
        if not picked:
            continue
        batch, runs, outputs = (list(x) for x in zip(*picked, strict=True))
        use_llm = has_instruction_model(config, home)
        scores = await judge_batch(batch, runs, outputs, model, "canary", use_llm)
        append_rows("scores", scores)
        judged = [s["score"] for s in scores if s["status"] == "ok"]
        summary[model] = {"scored": len(judged), "mean": sum(judged) / len(judged) if judged else 0.0}
    return summary


@flow(name="shadow_pending")
async def shadow_pending(limit: int = 100, max_batches: int = 20) -> dict[str, dict[str, dict[str, float]]]:
    """Drain the queue: per task type, a ``canary_eval`` of its pending canaries, then ``shadow_eval``
    subflows of ``limit`` unshadowed live runs each, up to ``max_batches`` per type per run (a backlog of
    thousands is tens of flow runs)."""
    config = load_config()
    log = score_log()
    results: dict[str, dict[str, dict[str, float]]] = {}
    for task_type, settings in config.task_types.items():
        if log.pending_canaries(task_type, 1):
            results[f"{task_type}/canary"] = await canary_eval(task_type, limit=limit)
        rejected = current_state(log, config).rejected
        active = [c for c in settings.candidates if (task_type, c) not in rejected]
        if budget_reached(task_type, config):
            continue
        for _ in range(max_batches):
            if not any(log.pending_shadows(task_type, c, 1) for c in active):
                break
            for candidate, stats in (await shadow_eval(task_type, limit=limit)).items():
                total = results.setdefault(task_type, {}).setdefault(candidate, {"scored": 0, "mean": 0.0})
                n = total["scored"] + stats["scored"]
                total["mean"] = (
                    (total["mean"] * total["scored"] + stats["mean"] * stats["scored"]) / n if n else 0.0
                )
                total["scored"] = n
    return results


@flow(name="backtest", flow_run_name="backtest/{task_type}/{model}")
async def backtest(model: str, task_type: str, limit: int = 200) -> dict[str, Any]:
    """Run a new candidate over archived ground-truth outputs (no new ground-truth calls), judge it, log
    the scores as ``source = 'backtest'``, and return the gate's verdict on that evidence."""
    get_type(task_type)
    archived = score_log().archived_ground_truth(task_type, limit)
    tasks = [
        Task(id=a["task_id"], type=task_type, input=json.loads(a["input"]), reference=json.loads(a["output"]))
        for a in archived
    ]
    if tasks:
        await shadow_eval(
            task_type,
            tasks=tasks,
            candidates=[model],
            source="backtest",
            ground_truth="archive",
            gt_run_ids=[a["run_id"] for a in archived],
        )
    return backtest_verdict(model, task_type, len(tasks))


def backtest_verdict(model: str, task_type: str, archived: int) -> dict[str, Any]:
    """The type's gate applied to the model's backtest scores from the type's primary judge."""
    config = load_config()
    kind = "deterministic" if TASK_TYPES[task_type].judge else "llm"
    heuristic = not has_instruction_model(config, Env().home.expanduser()) and kind == "llm"
    _, rows = score_log().query(
        "SELECT count(*), coalesce(sum(score), 0) FROM scores WHERE status = 'ok' AND source = 'backtest' "
        "AND candidate = ? AND task_type = ? AND judge_kind = ?",
        [model, task_type, "heuristic" if heuristic else kind],
    )
    n, total = rows[0]
    decision = gate_from_settings(config.task_types[task_type].gate).assess(total, n)  # type: ignore[index]
    return {
        "model": model,
        "task_type": task_type,
        "archived": archived,
        "n": n,
        "mean": decision.mean,
        "bound": decision.bound,
        "decision": decision.action,
        "judge_kind": "heuristic" if heuristic else kind,
    }


@flow(name="aggregate_confidence")
def aggregate_confidence() -> list[dict[str, Any]]:
    """Confidence per model × task type × judge (n, mean, std, last update), from every score so far."""
    table = score_log().records("SELECT * FROM confidence ORDER BY task_type, model, judge")
    logger = get_run_logger()
    for row in table:
        logger.info("%(model)s %(task_type)s %(judge)s: n=%(n)d mean=%(mean).3f std=%(std).3f", row)
    return table


@flow(name="compact_store")
def compact_store() -> list[dict[str, Any]]:
    """Merge the score log's small segments (keeps every row exactly once)."""
    log = score_log()
    return [vars(log.compact(table)) for table in ("runs", "scores")]
