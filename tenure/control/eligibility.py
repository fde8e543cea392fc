"""Who may produce evidence: which answers count as ground truth, which judges' verdicts count.

A shadow score can move a model's tenure only when

- the ground truth it was judged against came from a model eligible as ground truth for the type
  (``task_types.X.ground_truth_models``; default: the cloud models of its chain) and not from the
  candidate itself or a local model. A reference written by a person (the golden set) always counts.
- an LLM judge's verdict came from a model in ``judge.models`` (default: the cloud models of the
  ``judge`` chain) that is neither the candidate nor, with ``judge.exclude_same_family``, of its family.

Every score is recorded whatever answered; one that fails these rules carries the reason in its
``excluded`` column, and the evidence rules (``evidence.py``) show it and never gate on it.
"""

from __future__ import annotations

import re

from tenure.config import TenureConfig
from tenure.model_ids import parse_model_id

__all__ = ["family", "ground_truth_exclusion", "ground_truth_models", "judge_exclusion", "judge_models"]

CLOUD = ("anthropic", "openai")
LOCAL = ("ollama", "local")


def family(model_id: str) -> str:
    """The weights family of a model: claude, gpt, qwen, llama, gemma, phi, mistral, …"""
    mid = parse_model_id(model_id)
    if mid.provider == "anthropic":
        return "claude"
    name = mid.name.split(":")[0].rsplit("/", 1)[-1].lower()
    match = re.match(r"[a-z]+", name)
    return match.group(0) if match else name


def _cloud(config: TenureConfig, chain: str) -> list[str]:
    return [m for m in config.chain(chain) if parse_model_id(m).provider in CLOUD]


def ground_truth_models(config: TenureConfig, task_type: str) -> list[str]:
    """The models whose answers to ``task_type`` count as ground truth."""
    settings = config.task_type(task_type)
    if settings.ground_truth_models is not None:
        return settings.ground_truth_models
    return _cloud(config, settings.ground_truth)


def judge_models(config: TenureConfig) -> list[str]:
    """The models whose verdicts can be evidence."""
    return config.judge.models if config.judge.models is not None else _cloud(config, config.judge.chain)


def ground_truth_exclusion(
    config: TenureConfig, task_type: str, reference_by: str | None, candidate: str
) -> str | None:
    """Why a reference from ``reference_by`` (a model id; None for one a person wrote) is no ground
    truth for judging ``candidate``, or None when it is."""
    if reference_by is None or reference_by.startswith("reference:"):
        return None
    if reference_by == candidate:
        return f"ground truth served by the candidate itself ({candidate})"
    if parse_model_id(reference_by).provider in LOCAL:
        return f"ground truth served by a local model ({reference_by})"
    if reference_by not in ground_truth_models(config, task_type):
        return f"ground truth served by {reference_by}, not one of task_types.{task_type}.ground_truth_models"
    return None


def judge_exclusion(config: TenureConfig, judge_model: str, candidate: str) -> str | None:
    """Why a verdict by ``judge_model`` on ``candidate``'s answer is no evidence, or None when it is."""
    if judge_model == candidate:
        return f"judged by the candidate itself ({candidate})"
    if config.judge.exclude_same_family and family(judge_model) == family(candidate):
        return f"judged by {judge_model}, of the candidate's family ({family(candidate)})"
    if judge_model not in judge_models(config):
        return f"judged by {judge_model}, not one of judge.models"
    return None
