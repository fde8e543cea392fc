"""Incremental indexing through the real ``vault_embed`` flow, LanceDB files and the embedding model."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tenure.config import Env
from tenure.memory.chunker import chunk_text
from tenure.memory.notes import Note, read_note, scan
from tenure.memory.search import search
from tenure.resources import data_path
from tenure.store.vault import IndexBusy, Mode, VaultStore

SAMPLE = data_path("vault")
pytestmark = pytest.mark.usefixtures("prefect_server", "shared_export")


def note(title: str, *sections: tuple[str, str]) -> str:
    return (
        f"---\ntags: [test]\n---\n# {title}\n\n" + "\n\n".join(f"## {h}\n\n{t}" for h, t in sections) + "\n"
    )


def index(vault: Path, store: VaultStore) -> dict[str, Any]:
    from tenure.flows.vault_embed import vault_embed

    return vault_embed(str(vault), index=str(store.root))


def paths(hits) -> list[str]:
    return [h.path for h in hits]


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    root = tmp_path / "vault"
    (root / "projects").mkdir(parents=True)
    for n in range(4):
        (root / "projects" / f"p{n}.md").write_text(
            note(
                f"Project {n}",
                ("Goal", f"Goal of project {n}."),
                ("Plan", f"Plan {n}."),
                ("Risks", f"Risk {n}."),
            )
        )
    return root


@pytest.fixture
def store(tmp_path: Path) -> VaultStore:
    return VaultStore(tmp_path / "index")


def hashes(root: Path, rel: str) -> set[str]:
    n = read_note(root, next(s for s in scan(root) if s.path == rel), 2_000_000)
    assert isinstance(n, Note), n
    return {c.content_hash for c in chunk_text(n.title, n.body)}


def test_first_pass_indexes_everything_and_a_rerun_touches_nothing(vault: Path, store: VaultStore):
    first = index(vault, store)
    assert (first["notes_new"], first["chunks_new"], first["chunks_embedded"]) == (4, 12, 12)
    again = index(vault, store)
    assert again["notes_unchanged"] == 4 and again["chunks_embedded"] == 0
    assert {k: v for k, v in again.items() if k.startswith("chunks_")} == dict.fromkeys(
        ["chunks_new", "chunks_updated", "chunks_unchanged", "chunks_removed", "chunks_embedded"], 0
    )
    assert store.count_chunks() == 12


def test_editing_one_note_re_embeds_exactly_its_changed_chunks(vault: Path, store: VaultStore):
    index(vault, store)
    before = hashes(vault, "projects/p2.md")
    path = vault / "projects" / "p2.md"
    path.write_text(path.read_text().replace("Plan 2.", "Plan 2, revised: ship on Friday."))
    changed = hashes(vault, "projects/p2.md") - before
    assert len(changed) == 1

    report = index(vault, store)
    assert report["chunks_embedded"] == len(changed)
    assert (report["notes_updated"], report["notes_unchanged"]) == (1, 3)
    assert (report["chunks_updated"], report["chunks_unchanged"], report["chunks_new"]) == (1, 2, 0)
    assert paths(search(store, "ship on Friday", 1, mode="keyword")) == ["projects/p2.md"]
    assert store.count_chunks() == 12


def test_a_deleted_note_leaves_both_vector_and_keyword_results(vault: Path, store: VaultStore):
    (vault / "projects" / "zebra.md").write_text(
        note("Zebra", ("Facts", "Quagga zebras were hunted to extinction."))
    )
    index(vault, store)
    query = "Quagga zebras were hunted to extinction"
    for mode in ("keyword", "vector", "hybrid"):
        assert paths(search(store, query, 1, mode=mode)) == ["projects/zebra.md"]

    (vault / "projects" / "zebra.md").unlink()
    report = index(vault, store)
    assert (report["notes_removed"], report["chunks_removed"]) == (1, 1)
    assert search(store, "quagga", 5, mode="keyword") == []
    for mode in ("vector", "hybrid"):
        assert "projects/zebra.md" not in paths(search(store, query, 5, mode=mode))
    assert store.count_chunks() == 12


def test_a_removed_section_disappears_and_an_added_note_is_found_at_once(vault: Path, store: VaultStore):
    index(vault, store)
    path = vault / "projects" / "p1.md"
    path.write_text(path.read_text().replace("## Risks\n\nRisk 1.\n", ""))
    (vault / "projects" / "new.md").write_text(note("New", ("Ideas", "Try the xylophonist heuristic.")))
    report = index(vault, store)
    assert (report["notes_new"], report["notes_updated"], report["chunks_removed"], report["chunks_new"]) == (
        1,
        1,
        1,
        1,
    )
    assert paths(search(store, "xylophonist", 3, mode="keyword")) == ["projects/new.md"]
    assert sorted(paths(search(store, "risks", 10, mode="keyword"))) == [
        f"projects/p{n}.md" for n in (0, 2, 3)
    ]


def test_a_moved_note_reuses_its_vectors(vault: Path, store: VaultStore):
    index(vault, store)
    (vault / "archive").mkdir()
    shutil.move(vault / "projects" / "p3.md", vault / "archive" / "p3.md")
    report = index(vault, store)
    assert (report["notes_new"], report["notes_removed"], report["chunks_embedded"]) == (1, 1, 0)
    assert paths(search(store, "Risk 3", 1, mode="keyword")) == ["archive/p3.md"]


def test_stale_marks_a_file_edited_after_indexing_but_not_one_only_touched(vault: Path, store: VaultStore):
    index(vault, store)
    path = vault / "projects" / "p0.md"
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 5_000_000_000))
    assert not search(store, "Goal of project 0", 1)[0].stale  # same bytes: not stale
    path.write_text(path.read_text() + "\nA late addition.\n")
    hit = search(store, "Goal of project 0", 1)[0]
    assert hit.path == "projects/p0.md" and hit.stale
    assert index(vault, store)["notes_updated"] == 1
    assert not search(store, "Goal of project 0", 1)[0].stale
    path.unlink()
    assert search(store, "Goal of project 0", 1)[0].stale  # gone from disk, still indexed until the next run


def test_bad_files_are_skipped_or_truncated_with_warnings_and_the_rest_is_indexed(
    tmp_path: Path, vault: Path, store: VaultStore, monkeypatch
):
    config = tmp_path / "tenure.toml"
    config.write_text("[vault]\nmax_note_bytes = 200_000\n")
    monkeypatch.setenv("TENURE_CONFIG", str(config))
    (vault / "photo.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + os.urandom(4096))
    (vault / "latin.md").write_bytes("## Caf\xe9\n\nthe croissant ledger".encode("latin-1"))
    (vault / "broken.md").write_text("---\ntags: [unclosed\n---\n## Body\n\nthe marmalade protocol")
    with (vault / "huge.md").open("w") as f:  # 50 MB
        f.write("## Log\n\n")
        for n in range(500_000):
            f.write(f"entry {n} of the enormous log of pelican sightings\n"[:99].ljust(99) + "\n")

    report = index(vault, store)
    assert report["notes_skipped"] == 1 and report["notes_new"] == 7
    warnings = "\n".join(report["warnings"])
    assert "photo.md: skipped: binary content" in warnings
    assert "latin.md: invalid UTF-8" in warnings
    assert "broken.md: frontmatter is not valid YAML" in warnings
    assert "huge.md: truncated to the first 199,959 of 50,000,008 bytes" in warnings
    for word, where in [("croissant", "latin.md"), ("marmalade", "broken.md"), ("pelican", "huge.md")]:
        assert paths(search(store, word, 1, mode="keyword")) == [where]
    assert paths(search(store, "Risk 2", 1, mode="keyword")) == ["projects/p2.md"]

    again = index(vault, store)  # the skipped file is remembered, not re-read
    assert again["notes_unchanged"] == 8 and again["warnings"] == []


def test_a_second_writer_is_refused_while_one_holds_the_index(store: VaultStore):
    busy = pytest.raises(IndexBusy, match=f"another indexer \\(pid {os.getpid()}\\) is writing")
    with store.writer(), busy, VaultStore(store.root).writer():
        pass
    with store.writer():  # released
        pass


def test_killing_the_indexer_mid_run_leaves_an_index_the_next_run_completes(
    tmp_path: Path, store: VaultStore
):
    root = tmp_path / "big"
    for n in range(60):
        (root / "notes").mkdir(parents=True, exist_ok=True)
        (root / "notes" / f"n{n:02}.md").write_text(
            note(
                f"Note {n}",
                *[(f"Part {p}", f"Fact {n}-{p}: the number {n * 7 + p} matters.") for p in range(4)],
            )
        )
    expected = {s.path: hashes(root, s.path) for s in scan(root)}
    config = tmp_path / "tenure.toml"
    config.write_text("[vault]\nbatch_chunks = 4\n")
    from prefect.settings import PREFECT_API_URL

    env = {  # the session's Prefect server; the indexer's own process group is killed, like a power cut
        **os.environ,
        "TENURE_CONFIG": str(config),
        "TENURE_HOME": str(Env().home),  # the test's home, linked to the session's embedder export
        "PREFECT_API_URL": PREFECT_API_URL.value() or "",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tenure.cli", "vault", "index", str(root)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    killed_at = 0
    victim = VaultStore(Env().home / "vault_index")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        try:
            killed_at = len(victim.note_states()) if victim.root.exists() else 0
        except Exception:  # a table mid-creation
            continue
        if killed_at >= 8:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
    assert 8 <= killed_at < 60

    report = index(root, victim)
    assert report["notes_new"] + report["notes_unchanged"] + report["notes_updated"] == 60
    assert report["notes_unchanged"] >= killed_at
    assert report["chunks_embedded"] <= 240 - 4 * killed_at
    rows = victim.db.open_table("chunks").to_arrow().select(["id", "path", "content_hash"]).to_pylist()
    assert len(rows) == len({r["id"] for r in rows}) == 240  # no duplicates, nothing missing
    got: dict[str, set[str]] = {}
    for r in rows:
        got.setdefault(r["path"], set()).add(r["content_hash"])
    assert got == expected


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory, prefect_server) -> VaultStore:
    """The shipped sample vault, indexed once for the read-only tests below."""
    from tenure.flows.vault_embed import vault_embed

    store = VaultStore(tmp_path_factory.mktemp("sample") / "index")
    report = vault_embed(str(SAMPLE), index=str(store.root))
    assert report["notes_new"] == 100 and report["warnings"] == []
    return store


def recall_at_5(store: VaultStore, mode: Mode) -> float:
    queries = [json.loads(line) for line in (SAMPLE.parent / "vault_queries.jsonl").read_text().splitlines()]
    total = 0.0
    for q in queries:
        found = set(paths(search(store, q["query"], 5, mode=mode)))
        total += len(found & set(q["relevant"])) / len(q["relevant"])
    return total / len(queries)


def test_hybrid_recall_at_5_is_at_least_the_better_of_keyword_and_vector(sample_index: VaultStore):
    recall = {mode: recall_at_5(sample_index, mode) for mode in ("keyword", "vector", "hybrid")}
    assert recall["hybrid"] >= max(recall["keyword"], recall["vector"]), recall
    assert recall["hybrid"] >= 0.8, recall


def test_filters_restrict_folder_dates_and_tags(sample_index: VaultStore):
    import datetime as dt

    hits = search(sample_index, "what did I work on", 10, folders=("daily",))
    assert len(hits) == 10 and {h.path.split("/")[0] for h in hits} == {"daily"}
    since, until = dt.date(2026, 10, 1), dt.date(2026, 10, 31)
    hits = search(sample_index, "meeting", 10, since=since, until=until)
    assert hits and all(h.date and since <= h.date <= until for h in hits)
    hits = search(sample_index, "server", 10, tags=("homelab",))
    assert hits and all("homelab" in h.tags for h in hits)
    assert search(sample_index, "server", 10, folders=("nope",)) == []


def test_hits_are_distinct_notes_with_headings_snippets_and_scores(sample_index: VaultStore):
    hits = search(sample_index, "Proxmox reinstall of nas-01", 5)
    assert len({h.path for h in hits}) == 5
    assert hits[0].path == "decisions/2026-06-03-adopt-proxmox-on-nas-01.md"
    assert hits[0].headings and "Proxmox" in hits[0].snippet and len(hits[0].snippet) <= 250
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert not any(h.stale for h in hits)


@pytest.mark.parametrize(
    ("query", "k", "mode", "message"),
    [
        ("  ", 5, "hybrid", "query is empty"),
        ("x", 0, "hybrid", "k must be at least 1"),
        ("x", 5, "fuzzy", "mode"),
    ],
)
def test_bad_search_arguments_say_what_is_wrong(sample_index: VaultStore, query, k, mode, message):
    with pytest.raises(ValueError, match=message):
        search(sample_index, query, k, mode=mode)


async def test_a_pass_is_one_flow_run_with_one_task_run_per_batch_not_per_note(
    tmp_path: Path, vault: Path, store: VaultStore, monkeypatch
):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from tenure.flows.vault_embed import vault_embed

    config = tmp_path / "tenure.toml"
    config.write_text("[vault]\nbatch_chunks = 2\n")  # small notes count as one chunk each: 2 batches
    monkeypatch.setenv("TENURE_CONFIG", str(config))
    seen: list[tuple[int, int]] = []
    state = vault_embed(
        str(vault),
        index=str(store.root),
        progress=lambda done, total, _: seen.append((done, total)),
        return_state=True,
    )
    assert (await state.aresult())["chunks_new"] == 12
    assert seen == [(2, 4), (4, 4)]
    assert state.state_details.flow_run_id is not None
    async with get_client() as client:
        flow_run = await client.read_flow_run(state.state_details.flow_run_id)
        tasks = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id]))
        )
    assert flow_run.flow_id and flow_run.parameters["vault"] == str(vault)
    assert sorted(
        t.name.rsplit("-", 1)[0] if t.name.startswith(("plan", "finish")) else t.name for t in tasks
    ) == [
        "finish_vault_pass",
        "index_batch/1",
        "index_batch/2",
        "plan_vault_pass",
    ]


def test_the_nightly_run_with_no_vault_configured_does_nothing_and_says_why():
    from tenure.flows.vault_embed import vault_embed

    report = vault_embed()
    assert report["vault"] is None and report["notes_new"] == 0
    assert report["warnings"] == [
        "no vault to index: set vault.path in tenure.toml (or run tenure vault index PATH)"
    ]


async def test_the_index_run_is_named_for_what_changed_and_leaves_its_report(sample_index: VaultStore):
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async with get_client() as client:
        reports = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["vault-index"]))
        )
        # other tests index other vaults in this session: the sample's pass is the one naming its folder
        [report] = [r for r in reports if str(r.data).startswith(f"**{SAMPLE}**")]
        assert report.flow_run_id is not None
        run = await client.read_flow_run(report.flow_run_id)
    assert run.name == "vault_embed: 100 new, 0 updated, 0 removed, 0 unchanged"
    assert str(report.data).startswith(f"**{SAMPLE}**: 100 new, 0 updated, 0 removed")
    assert "#### Warnings\n\n_none_" in str(report.data)


def test_a_pass_over_odd_files_indexes_the_notes_and_names_the_rest(tmp_path: Path, store: VaultStore):
    from tests.memory.test_notes import _odd_vault

    vault, _ = _odd_vault(tmp_path)
    report = index(vault, store)  # a FIFO read would block here forever
    assert report["notes_new"] == 2
    named = {w.split(":", 1)[0] for w in report["warnings"]}
    assert {"dangling.md", "loop-a.md", "pipe.md", "passwd.md"} <= named
    assert search(store, "root:x:0:0:root", 5, mode="keyword") == []
