"""Deterministic judges on hand-made cases, near misses included; the heuristic judge's checks."""

from __future__ import annotations

import pytest

from tenure.control.judges import heuristic_judge
from tenure.control.task import parse_task
from tenure.control.task_types.classify import label_match
from tenure.control.task_types.code_transform import code_tests
from tenure.control.task_types.extract import field_f1
from tenure.control.task_types.format import format_structure


def test_label_match():
    assert label_match("Billing.", "billing").score == 1.0
    wrong = label_match("spam", "billing")
    assert (wrong.score, wrong.passed, wrong.reason) == (0.0, False, "said 'spam', expected 'billing'")


def test_field_f1_with_a_missing_and_a_wrong_field():
    reference = {"vendor": "Hollow Pine", "amount": "120.00", "po": None}
    assert field_f1({"vendor": "hollow pine", "amount": "120.00", "po": None}, reference).score == 1.0
    near = field_f1({"vendor": "Hollow Pine", "amount": None, "po": "77"}, reference)
    # filled: vendor, amount; predicted: vendor, po; correct: vendor → F1 = 2·1 / (2 + 2)
    assert (near.score, near.passed, near.reason) == (0.5, False, "wrong or missing: amount, po")
    assert field_f1("not a dict", reference).score == 0.0


@pytest.mark.parametrize(
    ("output", "target", "reference", "score"),
    [
        ('{"a": 1, "b": [1, 2]}', "json", '{"a": 1, "b": [1, 2]}', 1.0),
        ('```json\n{"a": 1}\n```', "json", '{"a": 1}', 1.0),
        ('{"a": 2, "b": [3, 4]}', "json", '{"a": 1, "b": [1, 2]}', 0.75),
        ('{"z": 1}', "json", '{"a": 1, "b": [1, 2]}', 0.5),
        ('{"a": 1,', "json", '{"a": 1}', 0.0),
        ("a: 1\nb: two", "yaml", "a: 1\nb: two", 1.0),
        ("just a sentence", "yaml", "a: 1", 0.0),
        ("name,qty\nmilk,2\neggs,12", "csv", "name,qty\nmilk,2\neggs,12", 1.0),
        ("name,qty\nmilk,2,extra", "csv", "name,qty\nmilk,2", 0.0),
        ("| a | b |\n|---|---|\n| 1 | 2 |", "markdown_table", "| a | b |\n|---|---|\n| 1 | 2 |", 1.0),
        ("| a | b |\n| 1 | 2 |", "markdown_table", "| a | b |\n|---|---|\n| 1 | 2 |", 0.0),
    ],
)
def test_format_structure(output, target, reference, score):
    assert format_structure(output, reference, target).score == score


def test_code_tests_near_misses():
    tests = "assert add(2, 3) == 5\nassert add(-1, 1) == 0"
    assert code_tests("def add(a, b):\n    return a + b", tests).score == 1.0
    assert code_tests("```python\ndef add(a, b):\n    return a + b\n```", tests).score == 1.0
    failing = code_tests("def add(a, b):\n    return a - b", tests)
    assert (failing.score, failing.reason) == (0.25, "parses, tests fail: AssertionError")
    broken = code_tests("def add(a, b)\n    return a + b", tests)
    assert (broken.score, broken.reason) == (0.0, "does not parse: line 1: expected ':'")
    assert code_tests("while True:\n    pass", "assert True").reason == "tests timed out (10 s)"
    assert code_tests("x = 1", None).judge == "code_parse"


@pytest.mark.slow
def test_heuristic_judge_ranks_a_paraphrase_above_a_wrong_answer_and_applies_hard_checks():
    task = parse_task(
        {
            "id": "s",
            "type": "summarize",
            "input": {
                "text": "The launch moves from 3 to 10 June because QA found two blockers.",
                "max_words": 12,
            },
            "reference": "Launch moved to 10 June over two QA blockers.",
        }
    )
    close = heuristic_judge(task, "The launch is now 10 June, delayed by two QA blockers.")
    wrong = heuristic_judge(task, "Bananas are rich in potassium.")
    long = heuristic_judge(
        task, "The launch is now 10 June, delayed by two QA blockers found late in testing this week."
    )
    assert close.score > 0.7 > wrong.score
    assert long.score < close.score and "words > 12" in long.reason
    assert heuristic_judge(task, "").score == 0.0
