"""The chunker: headings, code fences, long and empty notes, overlap, and bounded size."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from tenure.memory.chunker import chunk_text

NOTE = """\
Intro line before any heading.

# Project Atlas

Atlas moves the billing jobs to Prefect.

## Decisions

We chose DuckDB for the score log.

### Why not Postgres

One writer per file is enough here.

## Runbook

```bash
# restart the worker
systemctl restart prefect-worker
## not a heading either
```

Check the UI afterwards.
"""


def test_headings_give_each_chunk_its_path_and_embedded_prefix():
    chunks = chunk_text("Atlas", NOTE)
    assert [c.headings for c in chunks] == [
        (),
        ("Project Atlas",),
        ("Project Atlas", "Decisions"),
        ("Project Atlas", "Decisions", "Why not Postgres"),
        ("Project Atlas", "Runbook"),
    ]
    assert chunks[0].embed_text == "Atlas\n\nIntro line before any heading."
    assert chunks[3].embed_text.startswith("Atlas\nProject Atlas > Decisions > Why not Postgres\n\n")
    assert all(c.rank == 0 for c in chunks)


def test_hash_lines_inside_a_code_fence_are_code_not_headings():
    runbook = chunk_text("Atlas", NOTE)[-1]
    assert "# restart the worker" in runbook.text
    assert "## not a heading either" in runbook.text
    assert runbook.text.endswith("Check the UI afterwards.")


def test_a_code_block_longer_than_a_chunk_is_never_split():
    code = "```python\n" + "\n".join(f"x{i} = {i}  # line {i}" for i in range(200)) + "\n```"
    body = "## Code\n\nSome prose first.\n\n" + code + "\n\nProse after."
    chunks = chunk_text("T", body, max_chars=400, overlap=50)
    holding = [c for c in chunks if "x0 = 0" in c.text]
    assert len(holding) == 1 and code in holding[0].text
    assert all("x199 = 199" not in c.text for c in chunks if c is not holding[0])
    assert holding[0].text == code  # alone: no prose carried into it
    assert [c.rank for c in chunks] == list(range(len(chunks)))


def test_an_unclosed_fence_runs_to_the_end_of_the_note():
    chunks = chunk_text("T", "## A\n\ntext\n\n```\n# code\n## more code")
    assert [c.headings for c in chunks] == [("A",)]
    assert "## more code" in chunks[0].text


def test_long_prose_is_cut_within_bounds_with_overlap_between_neighbours():
    sentences = [f"Sentence number {i} talks about topic {i % 7} at some length." for i in range(120)]
    chunks = chunk_text("Long", "## Notes\n\n" + " ".join(sentences), max_chars=500, overlap=80)
    assert len(chunks) > 5
    assert all(len(c.text) <= 500 for c in chunks)
    for before, after in itertools.pairwise(chunks):
        head = after.text.split("\n\n")[0]  # the carried tail of the previous chunk
        assert 0 < len(head) <= 80 and before.text.endswith(head)
    for s in sentences:  # nothing lost
        assert any(s in c.text for c in chunks)


def test_lists_keep_their_lines():
    chunk = chunk_text("T", "## Tasks\n\n- one\n- two\n- three")[0]
    assert chunk.text == "- one\n- two\n- three"


def test_empty_and_heading_only_notes_have_no_chunks():
    assert chunk_text("Empty", "") == []
    assert chunk_text("Blank", "\n\n   \n") == []
    assert chunk_text("Headings", "# Title\n\n## Section\n") == []


def test_repeated_headings_are_told_apart_by_rank():
    chunks = chunk_text("T", "## Log\n\nfirst\n\n## Log\n\nsecond")
    assert [(c.headings, c.rank) for c in chunks] == [(("Log",), 0), (("Log",), 1)]


def test_equal_text_gives_equal_hash_and_a_changed_heading_changes_it():
    a = chunk_text("T", "## A\n\nsame words")[0]
    b = chunk_text("T", "## A\n\nsame words")[0]
    c = chunk_text("T", "## B\n\nsame words")[0]
    assert a.content_hash == b.content_hash != c.content_hash


words = st.text(alphabet="abcdefghij ", min_size=1, max_size=60)
blocks = st.lists(
    st.one_of(
        words.map(lambda w: f"## {w.strip() or 'h'}"),
        words,
        st.lists(words, min_size=1, max_size=30).map(lambda ws: " ".join(ws) + "."),
        st.lists(words, min_size=1, max_size=8).map(lambda ws: "```\n# " + "\n".join(ws) + "\n```"),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(blocks)
def test_chunks_are_bounded_unless_code_and_keep_every_word(parts: list[str]):
    body = "\n\n".join(parts)
    chunks = chunk_text("T", body, max_chars=300, overlap=40)
    for c in chunks:
        assert len(c.text) <= 300 or "```" in c.text
    text = " ".join(c.text for c in chunks)
    for part in parts:
        if not part.startswith("##"):
            for word in part.replace("```", " ").replace("#", " ").split():
                assert word in text
