"""Judges: score a candidate's output against the reference (the ground truth's answer).

Three kinds, never pooled silently (every score carries its judge's name and kind):

- ``deterministic``: label match (classify), field-level F1 (extract), parses-and-matches-structure
  (format), parses-and-passes-tests (code_transform). Exact, free, and the first choice where a task
  allows one.
- ``heuristic``: the offline stand-in for an LLM judge on free text: cosine similarity of
  all-MiniLM-L6-v2 embeddings to the reference, with the type's hard checks (word limit, valid citations).
- ``llm``: a strong model with a rubric per type and a structured verdict (see ``llm_judge``).
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from tenure.control.tasks import Task
from tenure.memory.embed import embed

__all__ = ["JudgeKind", "Verdict", "deterministic_judge", "heuristic_judge"]

JudgeKind = Literal["deterministic", "heuristic", "llm"]
CODE_TEST_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Verdict:
    """A judge's score for one candidate output."""

    judge: str
    """e.g. ``label_match``, ``heuristic:minilm``, ``llm:anthropic:claude-opus-4-6``."""
    kind: JudgeKind
    score: float
    passed: bool
    reason: str
    cost_usd: float = 0.0
    """What producing the verdict cost (LLM judges)."""


def _norm(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value)).strip().strip(".").lower()


def label_match(output: Any, reference: Any) -> Verdict:
    ok = _norm(output) == _norm(reference)
    reason = "label matches" if ok else f"said '{output}', expected '{reference}'"
    return Verdict("label_match", "deterministic", float(ok), ok, reason)


def field_f1(output: Any, reference: dict[str, Any]) -> Verdict:
    """F1 over the fields the reference fills; a field the text lacks must come back null."""
    got = output if isinstance(output, dict) else {}
    filled = {k for k, v in reference.items() if v is not None}
    predicted = {k for k in reference if got.get(k) is not None}
    correct = {k for k in filled & predicted if _norm(got[k]) == _norm(reference[k])}
    denominator = len(filled) + len(predicted)
    score = 1.0 if denominator == 0 else 2 * len(correct) / denominator
    wrong = sorted((filled | predicted) - correct)
    reason = "all fields right" if not wrong else f"wrong or missing: {', '.join(wrong)}"
    return Verdict("field_f1", "deterministic", round(score, 4), score >= 0.999, reason)


def _parse_format(text: str, target: str) -> Any:
    text = text.strip()
    if text.startswith("```"):  # a fenced answer is fine; the fence is not part of the format
        text = re.sub(r"^```[\w-]*\n|\n?```$", "", text)
    if target == "json":
        return json.loads(text)
    if target == "yaml":
        value = yaml.safe_load(text)
        if not isinstance(value, dict | list):
            raise ValueError("YAML is not a mapping or a list")
        return value
    if target == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        if not rows or any(len(r) != len(rows[0]) for r in rows):
            raise ValueError("CSV rows have different numbers of columns")
        return {"header": rows[0], "rows": len(rows) - 1}
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    if len(cells) < 2 or not all(line.startswith("|") for line in lines) or not set(lines[1]) <= set("|-: "):
        raise ValueError("not a pipe table with a header and a separator row")
    if any(len(row) != len(cells[0]) for row in cells):
        raise ValueError("table rows have different numbers of cells")
    return {"header": cells[0], "rows": len(cells) - 2}


def _shape(value: Any) -> Any:
    """The structure of a parsed value with the content stripped: keys, nesting and lengths."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return type(value).__name__ if not isinstance(value, int | float) or isinstance(value, bool) else "number"


def format_structure(output: Any, reference: str, target: str) -> Verdict:
    """0 if it does not parse as the target; 0.5 if it parses; 0.75 same shape; 1.0 same content."""
    try:
        got = _parse_format(str(output), target)
    except (ValueError, yaml.YAMLError) as exc:
        return Verdict("format_structure", "deterministic", 0.0, False, f"not valid {target}: {exc}"[:200])
    want = _parse_format(reference, target)
    if got == want:
        return Verdict("format_structure", "deterministic", 1.0, True, f"valid {target}, same content")
    if _shape(got) == _shape(want):
        return Verdict("format_structure", "deterministic", 0.75, False, f"valid {target}, same structure")
    return Verdict("format_structure", "deterministic", 0.5, False, f"valid {target}, different structure")


def _strip_fence(code: str) -> str:
    match = re.search(r"```(?:python|py)?\n(.*?)```", code, re.S)
    return match.group(1) if match else code


def code_tests(output: Any, tests: str | None) -> Verdict:
    """Parses (0 if not); with tests, runs them on the code in a fresh interpreter (1 pass, 0.25 fail)."""
    code = _strip_fence(str(output))
    try:
        ast.parse(code)
    except SyntaxError as exc:
        return Verdict(
            "code_tests", "deterministic", 0.0, False, f"does not parse: line {exc.lineno}: {exc.msg}"
        )
    if not tests:
        return Verdict("code_parse", "deterministic", 1.0, True, "parses (the task has no tests)")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "candidate.py"
        script.write_text(f"{code}\n\n{tests}\n", encoding="utf-8")
        try:
            run = subprocess.run(
                [sys.executable, "-I", str(script)],
                capture_output=True,
                text=True,
                timeout=CODE_TEST_TIMEOUT_S,
                cwd=tmp,
            )
        except subprocess.TimeoutExpired:
            return Verdict(
                "code_tests", "deterministic", 0.25, False, f"tests timed out ({CODE_TEST_TIMEOUT_S:g} s)"
            )
    if run.returncode == 0:
        return Verdict("code_tests", "deterministic", 1.0, True, "parses and passes the tests")
    last = (run.stderr.strip().splitlines() or ["failed"])[-1]
    return Verdict("code_tests", "deterministic", 0.25, False, f"parses, tests fail: {last}"[:200])


def deterministic_judge(task: Task, output: Any) -> Verdict | None:
    """The exact judge for this task's type, or ``None`` where the type has none."""
    data = task.data()
    match task.kind.judge:
        case "label_match":
            return label_match(output, task.reference)
        case "field_f1":
            return field_f1(output, task.reference)
        case "format_structure":
            return format_structure(output, task.reference, data.target)  # type: ignore[attr-defined]
        case "code_tests":
            return code_tests(output, data.tests)  # type: ignore[attr-defined]
    return None


def heuristic_judge(task: Task, output: Any, *, pass_at: float = 0.8) -> Verdict:
    """Similarity to the reference, times the type's hard checks; the offline stand-in for an LLM judge."""
    text, reference = json.dumps(output) if isinstance(output, dict) else str(output), task.reference
    reference = json.dumps(reference) if isinstance(reference, dict) else str(reference)
    if not text.strip():
        return Verdict("heuristic:minilm", "heuristic", 0.0, False, "empty answer")
    a, b = embed([text, reference], quantized=False)
    score = max(0.0, float(a @ b))
    notes = [f"similarity {score:.2f}"]
    data = task.data()
    if task.type == "summarize" and len(text.split()) > data.max_words:  # type: ignore[attr-defined]
        score *= 0.5
        notes.append(f"{len(text.split())} words > {data.max_words}")  # type: ignore[attr-defined]
    if task.type == "rag_synthesis":
        known = {p.id for p in data.passages}  # type: ignore[attr-defined]
        cited = set(re.findall(r"\[(p\d+)\]", text))
        if cited - known:
            score *= 0.5
            notes.append(f"cites unknown passages {sorted(cited - known)}")
    score = round(min(score, 1.0), 4)
    return Verdict("heuristic:minilm", "heuristic", score, score >= pass_at, "; ".join(notes))
