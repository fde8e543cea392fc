"""The shipped golden set: enough realistic tasks per type, each reference right by its own judge."""

from __future__ import annotations

from collections import Counter

from tenure.control import task_types
from tenure.control.golden import load_golden, shots_for
from tenure.control.judges import deterministic_judge


def test_at_least_twenty_tasks_per_type_with_unique_ids():
    tasks = load_golden()
    counts = Counter(t.type for t in tasks)
    assert set(counts) == set(task_types.names())
    assert min(counts.values()) >= 20
    assert len({t.id for t in tasks}) == len(tasks)


def test_every_reference_passes_its_own_deterministic_judge():
    failures = [
        (t.id, v.reason)
        for t in load_golden(["classify", "extract", "format", "code_transform"])
        if (v := deterministic_judge(t, t.reference)) is not None and v.score != 1.0
    ]
    assert failures == []


def test_limit_takes_the_first_n_per_type():
    tasks = load_golden(["classify", "summarize"], limit=2)
    assert [t.id for t in tasks] == ["classify-001", "classify-002", "summarize-001", "summarize-002"]


def test_shots_for_a_base_model_are_similar_golden_tasks_never_the_task_itself():
    [task] = [t for t in load_golden(["classify"]) if t.id == "classify-001"]
    shots = shots_for(task)
    assert 1 <= len(shots) <= 2
    assert all(inputs["labels"] == task.input["labels"] for inputs, _ in shots)
    assert all(inputs != task.input for inputs, _ in shots)
    prompt = task.kind.completion(task.data(), shots)
    assert prompt.count("Answer:") == len(shots) + 1 and len(prompt) < 4000
