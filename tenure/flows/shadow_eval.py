"""The control plane's flows: ``shadow_eval``, ``canary_eval``, ``shadow_pending``, ``backtest``,
``aggregate_confidence`` and ``compact_store``. Composition only: the rules live in ``tenure.control``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from tenure.control import task_types
from tenure.control.budget import paused_types
from tenure.control.evidence import shadow_readings
from tenure.control.judges import has_instruction_model
from tenure.control.promotions import current_state
from tenure.control.scoreboard import scoreboard
from tenure.control.shadow import Summary, archived_task, reference_runs, with_reference
from tenure.control.task import Task
from tenure.runtime import runtime
from tenure.store.rows import TABLE_NAMES
from tenure.tasks.shadowing import answer_batch, append_rows, judge_batch
from tenure.tasks.ui import label, publish_table, rename

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
    candidates = params.get("candidates") or runtime().config.task_type(task_type).candidates
    return f"shadow_eval/{task_type}/{','.join(c.removesuffix(':latest') for c in candidates)}"


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
    task_types.get(task_type)
    rt = runtime()
    chosen = candidates or current_state(rt.log, rt.config).candidates(rt.config, task_type)
    label(task_type=task_type, source=source, model=chosen)
    use_llm = has_instruction_model(rt.config, rt.home)
    logger = get_run_logger()
    gt_ids: list[str] = []
    if tasks is not None and ground_truth == "chain":
        chain = rt.config.task_type(task_type).ground_truth
        gt_rows = await answer_batch(tasks, [None] * len(tasks), chain, source, role="ground_truth")
        append_rows("runs", gt_rows)
        answered = [(t, r) for t, r in zip(tasks, gt_rows, strict=True) if r.error is None]
        tasks = [with_reference(t, r) for t, r in answered]
        gt_ids = [r.run_id for _, r in answered]
    elif tasks is not None and ground_truth == "archive":
        if gt_run_ids is None or len(gt_run_ids) != len(tasks):
            raise ValueError("ground_truth='archive' needs one archived ground-truth run id per task")
        gt_ids = gt_run_ids
    elif tasks is not None:
        gt_rows = reference_runs(tasks, source)
        append_rows("runs", gt_rows)
        gt_ids = [r.run_id for r in gt_rows]
    summary: dict[str, dict[str, float]] = {}
    for candidate in chosen:
        if paused := paused_types(rt.log, rt.config, [task_type]).get(task_type):
            logger.warning("%s: shadowing paused", paused)
            break
        if tasks is None:
            pending = rt.log.pending_shadows(task_type, candidate, limit)
            batch, batch_ids = [archived_task(p) for p in pending], [p.run_id for p in pending]
        else:
            batch, batch_ids = tasks, gt_ids
        if not batch:
            continue
        runs = await answer_batch(batch, batch_ids, candidate, source)
        scores = await judge_batch(batch, runs, candidate, source, use_llm)
        append_rows("runs", runs)
        append_rows("scores", scores)
        result = Summary.of(scores)
        summary[candidate] = result.as_dict()
        logger.info("%s on %s: %d scored, mean %.3f", candidate, task_type, result.scored, result.mean)
    return summary


@flow(name="canary_eval", flow_run_name="canary_eval/{task_type}")
async def canary_eval(task_type: str, limit: int = 100) -> dict[str, dict[str, float]]:
    """Check sampled answers of the promoted model against the ground truth, asked now (after the fact).

    The scores (``source = 'canary'``) are what the drift test in ``promotion_check`` watches.
    """
    task_types.get(task_type)
    rt = runtime()
    pending = rt.log.pending_canaries(task_type, limit)
    if not pending:
        return {}
    label(task_type=task_type, source="canary", model=sorted({p.model for p in pending if p.model}))
    tasks = [archived_task(p, as_reference=False) for p in pending]
    chain = rt.config.task_type(task_type).ground_truth
    gt_rows = await answer_batch(tasks, [None] * len(tasks), chain, "canary", role="ground_truth")
    append_rows("runs", gt_rows)
    use_llm = has_instruction_model(rt.config, rt.home)
    summary: dict[str, dict[str, float]] = {}
    for model in sorted({p.model for p in pending if p.model}):
        picked = [
            (with_reference(t, g), p.model_copy(update={"gt_run_id": g.run_id}))
            for t, p, g in zip(tasks, pending, gt_rows, strict=True)
            if p.model == model and g.error is None
        ]
        if not picked:
            continue
        scores = await judge_batch([t for t, _ in picked], [r for _, r in picked], model, "canary", use_llm)
        append_rows("scores", scores)
        summary[model] = Summary.of(scores).as_dict()
    return summary


@flow(name="shadow_pending")
async def shadow_pending(limit: int = 100, max_batches: int = 20) -> dict[str, dict[str, dict[str, float]]]:
    """Drain the queue: per task type, a ``canary_eval`` of its pending canaries, then ``shadow_eval``
    subflows of ``limit`` unshadowed live runs each, up to ``max_batches`` per type per run (a backlog of
    thousands is tens of flow runs)."""
    rt = runtime()
    results: dict[str, dict[str, dict[str, float]]] = {}
    for task_type in task_types.names():
        if rt.log.pending_canaries(task_type, 1):
            results[f"{task_type}/canary"] = await canary_eval(task_type, limit=limit)
        if paused_types(rt.log, rt.config, [task_type]):
            continue
        active = current_state(rt.log, rt.config).candidates(rt.config, task_type)
        totals: dict[str, Summary] = {}
        for _ in range(max_batches):
            if not any(rt.log.pending_shadows(task_type, c, 1) for c in active):
                break
            for candidate, stats in (await shadow_eval(task_type, limit=limit)).items():
                totals[candidate] = totals.get(candidate, Summary()) + Summary(
                    int(stats["scored"]), stats["mean"]
                )
        if totals:
            results[task_type] = {c: s.as_dict() for c, s in totals.items()}
    scored = sum(int(stats["scored"]) for per_type in results.values() for stats in per_type.values())
    label(task_type=sorted({key.split("/")[0] for key in results}))
    rename(
        f"shadow_pending: {scored} scored in {', '.join(results)}"
        if results
        else "shadow_pending: nothing pending"
    )
    return results


@flow(name="backtest", flow_run_name="backtest/{task_type}/{model}")
async def backtest(model: str, task_type: str, limit: int = 200) -> dict[str, Any]:
    """Run a new candidate over archived ground-truth outputs (no new ground-truth calls), judge it, log
    the scores as ``source = 'backtest'``, and return what the promotion rules read in them."""
    task_types.get(task_type)
    label(task_type=task_type, model=model, source="backtest")
    rt = runtime()
    archived = rt.log.archived_ground_truth(task_type, limit)
    if archived:
        await shadow_eval(
            task_type,
            tasks=[archived_task(a) for a in archived],
            candidates=[model],
            source="backtest",
            ground_truth="archive",
            gt_run_ids=[a.run_id for a in archived],
        )
    readings = shadow_readings(rt.log, rt.config, source="backtest", model=model, task_type=task_type)
    return {
        "model": model,
        "task_type": task_type,
        "archived": len(archived),
        "readings": [r.summary() for r in readings],
    }


BOARD_COLUMNS = ("model", "task_type", "judge", "use", "n", "mean", "std", "bound", "status", "detail")
"""The scoreboard artifact's columns: what ``tenure scores`` shows, in the same words."""


@flow(name="aggregate_confidence")
def aggregate_confidence() -> list[dict[str, Any]]:
    """Confidence per model × task type × judge (n, mean, std, last update), from every score so far;
    the scoreboard (what the promotion rules make of each stream) becomes the ``scoreboard`` artifact."""
    rt = runtime()
    table = [{**asdict(t), "mean": t.mean} for t in rt.log.score_totals(after_demotion=False)]
    logger = get_run_logger()
    for row in table:
        logger.info("%(model)s %(task_type)s %(judge)s: n=%(n)d mean=%(mean).3f std=%(std).3f", row)
    board = scoreboard(rt.log, rt.config)
    columns: dict[str, list[Any]] = {c: [] for c in BOARD_COLUMNS}
    for row in board:
        for c in BOARD_COLUMNS:
            value = getattr(row, c)
            columns[c].append(round(value, 4) if isinstance(value, float) else value)
    due = sum(r.status in ("promote", "reject", "demote") for r in board)
    described = f"{len(board)} score streams, {due} decision(s) due at the next promotion_check"
    publish_table("scoreboard", columns, described)
    rename(f"aggregate_confidence: {described}")
    return table


@flow(name="compact_store")
def compact_store() -> list[dict[str, Any]]:
    """Merge the score log's small segments, table by table (keeps every row exactly once): every turn,
    score, triaged mail and tool call adds a segment, and each query's views read every segment."""
    log = runtime().log
    reports = [log.compact(table) for table in TABLE_NAMES]
    rename(
        "compact_store: "
        + ", ".join(f"{r.table} {r.segments_before}→{r.segments_after} segments" for r in reports)
    )
    return [vars(r) for r in reports]
