"""Hybrid fusion: reciprocal ranks plus a bonus for each list's first notes, so an exact match that only
BM25 ranks first (an invoice id the vectors blur) is never fused away."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tenure.memory.search import fuse
from tenure.store.vault import ChunkMatch


def ranking(paths: list[str], tag: str = "") -> list[ChunkMatch]:
    return [ChunkMatch(f"{p}#{tag}", p, p, [], f"{tag} text of {p}", None, [], 1.0) for p in paths]


def test_a_note_only_bm25_ranks_first_stays_on_top_of_notes_both_rank_middling():
    keyword = ranking(["invoice-4471", "a", "b", "c", "d"], "kw")
    vector = ranking(["a", "b", "c", "d", "e", "f"], "vec")  # the exact note is not among the vectors'
    fused = fuse([keyword, vector])
    assert [m.path for m in fused[:2]] == ["a", "invoice-4471"]  # plain RRF put it 5th: a, b, c, d first
    assert fused[1].id == "invoice-4471#kw"  # shown by the chunk of the list that ranked it


def test_a_note_both_lists_rank_first_wins_and_scores_fall_with_rank():
    fused = fuse([ranking(["x", "y", "z"]), ranking(["x", "z", "y"])])
    assert fused[0].path == "x" and {m.path for m in fused[1:]} == {"y", "z"}
    assert fused[0].score > fused[1].score == fused[2].score  # y and z: ranks 2 and 3 in either order


notes = st.lists(st.sampled_from([f"n{i}" for i in range(30)]), min_size=1, max_size=30, unique=True)


@given(notes, notes)
def test_each_lists_first_note_is_in_the_fused_top_two(keyword: list[str], vector: list[str]):
    fused = [m.path for m in fuse([ranking(keyword), ranking(vector)])]
    assert keyword[0] in fused[:2] and vector[0] in fused[:2]
    assert sorted(fused) == sorted(set(keyword) | set(vector))  # every note once
