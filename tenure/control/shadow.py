"""Answering a task with a model, judging a shadow against the ground truth, and the rows that record both.

Plain functions (no Prefect): ``flows/shadow_eval.py`` gives them retries, batching and names in the UI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field
from pydantic_ai.exceptions import UnexpectedModelBehavior

from tenure.control.golden import shots_for
from tenure.control.judges import Verdict, deterministic_judge, heuristic_judge
from tenure.control.tasks import Task
from tenure.models import CallFailed, CallResult, ChainUnavailable, build_chain, call, parse_model_id
from tenure.store import new_id

if TYPE_CHECKING:
    from pathlib import Path

    from tenure.config import TenureConfig

__all__ = [
    "Answer",
    "JudgeFailure",
    "answer",
    "has_instruction_model",
    "judge",
    "llm_judge",
    "run_row",
    "score_row",
    "shadow",
]


@dataclass
class Answer:
    """A model's parsed output for a task, with the model layer's record (or the error that stopped it)."""

    output: Any
    result: CallResult | None
    error: str | None = None


def _is_base_model(target: str) -> bool:
    return ":" in target and parse_model_id(target).provider == "local"


async def answer(task: Task, target: str, config: TenureConfig, home: Path) -> Answer:
    """Ask ``target`` (a model id or chain name). Base models get the few-shot completion prompt and
    their text is parsed; instruction models get the chat prompt and, where the type has one, the
    structured output model."""
    kind, data = task.kind, task.data()
    try:
        if _is_base_model(target):
            result = await call(
                kind.completion(data, shots_for(task)), config=config, home=home, target=target,
                max_tokens=kind.max_tokens, stop=list(kind.stop),
            )  # fmt: skip
            return Answer(kind.parse(str(result.output), data), result)
        system, user = kind.chat(data)
        result = await call(
            user, config=config, home=home, target=target, system=system, output_type=kind.output_model or str
        )
    except CallFailed as exc:
        return Answer(None, exc.result, str(exc))
    except ChainUnavailable as exc:
        return Answer(None, None, str(exc))
    output = result.output
    if isinstance(output, BaseModel):
        dumped = output.model_dump()
        output = dumped["label"] if task.type == "classify" else {f: dumped.get(f) for f in data.fields}  # type: ignore[attr-defined]
    return Answer(output, result)


class LLMVerdict(BaseModel):
    """The structured verdict an LLM judge must return."""

    score: float = Field(ge=0, le=1)
    """How well the candidate matches the reference in substance, from 0 to 1."""
    passed: bool
    """Whether the candidate could be sent instead of the reference without the user noticing a loss."""
    reason: str = Field(max_length=300)
    """One sentence: the main difference, or why it is equivalent."""


RUBRICS = {
    "classify": "Is the candidate's label the same as the reference label?",
    "extract": "Are the same fields filled with the same values (format differences allowed)?",
    "format": "Is the candidate valid in the target format with the same structure and content?",
    "summarize": "Does the candidate keep the reference's decisions, numbers, dates and owners, "
    "within the word limit?",
    "analyze": "Does the candidate reach the same conclusion for the same reasons, with correct numbers?",
    "rag_synthesis": "Same answer, supported only by the passages, with correct citations?",
    "code_transform": "Does the candidate code make the same change with the same behaviour?",
}


class JudgeFailure(Exception):
    """A judge that could not produce a verdict (bad replies after retries, or no model answered)."""


async def llm_judge(
    task: Task, output: Any, config: TenureConfig, home: Path, chain: str = "judge"
) -> Verdict:
    """A strong model grades the candidate against the reference with the type's rubric.

    The judge sees only "reference" and "candidate" (never model names), so it has no cue to prefer
    its own family's answer. Raises ``JudgeFailure`` when no valid verdict comes back.
    """
    kind, data = task.kind, task.data()
    system = (
        "You grade a candidate answer against a reference answer for the same task. "
        f"Rubric: {RUBRICS[task.type]} Reply with the verdict only."
    )
    prompt = (
        f"Task:\n{kind.render(data)}\n\nReference answer:\n{_as_json_text(task.reference)}\n\n"
        f"Candidate answer:\n{_as_json_text(output)}"
    )
    try:
        result = await call(
            prompt, config=config, home=home, target=chain, system=system, output_type=_verdict_spec()
        )
    except (CallFailed, ChainUnavailable, UnexpectedModelBehavior) as exc:
        raise JudgeFailure(f"{type(exc).__name__}: {exc}"[:300]) from None
    verdict: LLMVerdict = result.output
    return Verdict(
        f"llm:{result.served_by}",
        "llm",
        verdict.score,
        verdict.passed,
        verdict.reason,
        result.cost_usd or 0.0,
    )


def _verdict_spec() -> Any:
    """Prompted JSON output: works with every provider, including Ollama's OpenAI-compatible API."""
    from pydantic_ai import PromptedOutput

    return PromptedOutput(LLMVerdict)


def _as_json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def has_instruction_model(config: TenureConfig, home: Path, chain: str = "judge") -> bool:
    """True when ``chain`` has an instruction model to ask: a cloud model with a key, or a reachable
    Ollama. Without one the heuristic judge stands in, and golden runs replay their references."""
    try:
        built = build_chain(chain, config, home)
    except ChainUnavailable:
        return False
    providers = {parse_model_id(link.tenure_id).provider for link in built.links}
    return bool(providers & {"anthropic", "openai"}) or ("ollama" in providers and _ollama_up(config))


def _ollama_up(config: TenureConfig) -> bool:
    import ollama

    try:
        ollama.Client(host=config.providers.ollama.base_url, timeout=2).list()
    except Exception:  # refused, DNS, timeout: all mean "not there"
        return False
    return True


async def judge(
    task: Task, output: Any, config: TenureConfig, home: Path, *, use_llm: bool
) -> list[Verdict | JudgeFailure]:
    """The deterministic judge where the type has one; otherwise the LLM judge, or offline the heuristic."""
    exact = deterministic_judge(task, output)
    if exact is not None and exact.judge != "code_parse":
        return [exact]
    verdicts: list[Verdict | JudgeFailure] = [exact] if exact is not None else []
    if use_llm:
        try:
            verdicts.append(await llm_judge(task, output, config, home))
        except JudgeFailure as exc:
            verdicts.append(exc)
    else:
        verdicts.append(heuristic_judge(task, output))
    return verdicts


def run_row(
    task: Task, role: str, source: str, model: str, answer: Answer, gt_run_id: str | None = None
) -> dict[str, Any]:
    """One ``runs`` row: the task input, the output, and the model layer's full record."""
    result = answer.result
    record = result.model_dump(mode="json", exclude={"output"}) if result else None
    return {
        "run_id": new_id(),
        "task_id": task.id,
        "task_type": task.type,
        "role": role,
        "source": source,
        "model": result.requested if result else model,
        "served_by": result.served_by if result else None,
        "gt_run_id": gt_run_id,
        "input": json.dumps(task.input, ensure_ascii=False),
        "output": None if answer.output is None else json.dumps(answer.output, ensure_ascii=False),
        "reference": None if task.reference is None else json.dumps(task.reference, ensure_ascii=False),
        "record": json.dumps(record) if record else None,
        "trace_id": result.trace_id if result else None,
        "cost_usd": result.cost_usd if result else None,
        "latency_ms": result.latency_ms if result else None,
        "input_tokens": result.input_tokens if result else None,
        "output_tokens": result.output_tokens if result else None,
        "error": answer.error,
    }


def score_row(
    task: Task, run: dict[str, Any], candidate: str, source: str, verdict: Verdict | JudgeFailure
) -> dict:
    """One ``scores`` row; a judge that failed is recorded as such, never as a score."""
    failed = isinstance(verdict, JudgeFailure)
    return {
        "score_id": new_id(),
        "run_id": run["run_id"],
        "gt_run_id": run["gt_run_id"],
        "task_id": task.id,
        "task_type": task.type,
        "candidate": candidate,
        "judge": "llm" if failed else verdict.judge,
        "judge_kind": "llm" if failed else verdict.kind,
        "score": None if failed else verdict.score,
        "passed": None if failed else verdict.passed,
        "reason": str(verdict) if failed else verdict.reason,
        "status": "judge_failed" if failed else "ok",
        "source": source,
        "cost_usd": 0.0 if failed else verdict.cost_usd,
    }


async def shadow(
    task: Task,
    gt_run_id: str,
    candidate: str,
    config: TenureConfig,
    home: Path,
    *,
    source: str,
    use_llm: bool,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Answer ``task`` with ``candidate`` and judge it against ``task.reference`` (the ground truth).

    A candidate that could not answer (its model down) gets a run row with the error and no score:
    an outage says nothing about quality.
    """
    got = await answer(task, candidate, config, home)
    run = run_row(task, "candidate", source, candidate, got, gt_run_id=gt_run_id)
    if got.error is not None:
        return run, []
    verdicts = await judge(task, got.output, config, home, use_llm=use_llm)
    return run, [score_row(task, run, candidate, source, v) for v in verdicts]
