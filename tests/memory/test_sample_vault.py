"""The shipped sample vault and its labelled queries (the data the vault-search work is measured on)."""

from __future__ import annotations

import json
from collections import Counter

from tenure.resources import data_path

VAULT = data_path("vault")
QUERIES = data_path("vault_queries.jsonl")


def test_about_a_hundred_notes_across_the_five_folders():
    notes = [p for p in VAULT.rglob("*.md") if ".obsidian" not in p.parts]
    folders = Counter(p.relative_to(VAULT).parts[0] for p in notes)
    assert set(folders) == {"daily", "projects", "decisions", "people", "patterns"}
    assert 95 <= len(notes) <= 110


def test_every_query_names_notes_that_exist():
    queries = [json.loads(line) for line in QUERIES.read_text().splitlines() if line.strip()]
    assert len(queries) >= 40
    assert {q["kind"] for q in queries} == {"keyword", "semantic", "mixed"}
    for q in queries:
        assert q["query"].strip() and 1 <= len(q["relevant"]) <= 3
        assert all((VAULT / path).is_file() for path in q["relevant"]), q
