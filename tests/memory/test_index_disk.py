"""What an index keeps on disk: each chunk's text once, float16 vectors, one version after a pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lancedb
import pyarrow as pa
import pytest

from tenure.memory.search import search
from tenure.store.vault import VaultStore
from tests.memory.test_index import index, note, paths

pytestmark = pytest.mark.usefixtures("prefect_server", "shared_export")


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    root = tmp_path / "vault"
    (root / "projects").mkdir(parents=True)
    for n in range(3):
        (root / "projects" / f"p{n}.md").write_text(
            note(f"Project {n}", ("Goal", f"Ship the Okavango {n} pipeline."), ("Risks", f"Risk {n}."))
        )
    return root


def _table(store: VaultStore, name: str = "chunks") -> Any:
    return lancedb.connect(str(store.root)).open_table(name)


def test_text_is_stored_once_vectors_in_float16_and_a_pass_leaves_one_version(vault: Path, tmp_path: Path):
    store = VaultStore(tmp_path / "index")
    index(vault, store)
    chunks = _table(store)
    assert "text" not in chunks.schema.names and "text_start" in chunks.schema.names
    assert chunks.schema.field("vector").type.value_type == pa.float16()
    assert "mtime_ns" not in chunks.schema.names and "indexed_at" not in chunks.schema.names

    hits = search(store, "Okavango 1 pipeline", k=1, mode="keyword")
    assert paths(hits) == ["projects/p1.md"] and hits[0].text == "Ship the Okavango 1 pipeline."
    assert search(store, "ship the pipeline", k=3, mode="vector")[0].text.startswith("Ship the Okavango")

    (vault / "projects" / "p2.md").write_text(note("Project 2", ("Goal", "Moved to the Zambezi.")))
    index(vault, store)
    for name in ("chunks", "notes"):
        assert len(_table(store, name).list_versions()) == 1, name
    assert paths(search(store, "Zambezi", k=1, mode="keyword")) == ["projects/p2.md"]


class _PinnedFirst(VaultStore):
    """A store whose first open of ``chunks`` returns a handle opened before the last pass."""

    def __init__(self, root: Path, pinned: Any):
        super().__init__(root)
        self.pinned = [pinned]

    def _table(self, name: str) -> Any | None:
        if name == "chunks" and self.pinned:
            return self.pinned.pop()
        return super()._table(name)


def test_a_search_whose_version_a_pass_deleted_reads_again(vault: Path, tmp_path: Path):
    store = VaultStore(tmp_path / "index")
    index(vault, store)
    before = _table(store)  # as a search that opened the table just before the next pass's cleanup
    (vault / "projects" / "p0.md").write_text(note("Project 0", ("Goal", "Now the Limpopo line.")))
    index(vault, store)

    with pytest.raises(RuntimeError, match="Not found"):  # the files of the version it opened are gone
        before.search("Okavango", query_type="fts", fts_columns="content").limit(3).to_list()
    reader = _PinnedFirst(store.root, before)
    hits = search(reader, "Limpopo", k=1, mode="keyword")
    assert paths(hits) == ["projects/p0.md"] and not reader.pinned


def test_an_index_in_the_old_layout_is_rebuilt_by_the_next_pass(vault: Path, tmp_path: Path):
    store = VaultStore(tmp_path / "index")
    index(vault, store)
    _table(store).drop_columns(["text_start"])  # what an index written before text_start lacks

    with pytest.raises(ValueError, match=r"older tenure.*tenure vault index --full"):
        search(store, "Okavango", k=1)
    report = index(vault, store)
    assert any("older tenure" in w for w in report["warnings"])
    assert report["chunks_new"] == 6 and not store.outdated()
    assert paths(search(store, "Okavango 2", k=1, mode="keyword")) == ["projects/p2.md"]
