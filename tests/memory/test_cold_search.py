"""A cold ``tenure vault search`` loads only what its mode needs (every CLI call is a fresh process)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np

from tenure.store.vault import ChunkRow, IndexPass, NoteState, VaultStore

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted({m.split('.')[0] for m in sys.modules}))))
from tenure.cli import app
app(["vault", "search", "--mode", "keyword", "--json", "Okavango"])
"""
NOT_FOR_KEYWORDS = {
    "onnxruntime",
    "openvino",
    "tokenizers",
    "torch",
    "transformers",
    "sentence_transformers",
    "duckdb",
    "prefect",
    "httpx",
    "pydantic_ai",
}


def _index(home: Path) -> None:
    """A one-chunk index written through the store (no flow, no model: the vector is made up)."""
    now = dt.datetime.now(dt.UTC)
    content = "Rivers\n\nThe Okavango delta floods in winter."
    chunk = ChunkRow(
        id="c1",
        path="rivers.md",
        folder="",
        title="Rivers",
        headings=[],
        rank=0,
        text="The Okavango delta floods in winter.",
        content=content,
        content_hash="h1",
        note_date=None,
        tags=[],
    )
    note = NoteState("rivers.md", "d1", 1, len(content), 1, "indexed", None, now)
    store = VaultStore.for_home(home)
    store.write_batch([chunk], np.full((1, 384), 0.05, dtype=np.float32), [note])
    store.refresh(ann_min_chunks=50_000)
    counts = {f.name: 0 for f in fields(IndexPass) if f.type == "int"}
    store.record_run(
        IndexPass(
            started_at=now,
            finished_at=now,
            vault=str(home / "vault"),
            model="all-MiniLM-L6-v2/onnx-int8",
            full=True,
            seconds=0.0,
            **counts,
        )
    )


def test_a_keyword_search_loads_no_embedder_score_log_or_workflow_library(tmp_path: Path):
    home = tmp_path / "home"
    _index(home)
    env = {**os.environ, "TENURE_HOME": str(home)}
    run = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )
    assert run.returncode == 0, run.stderr
    *hits, modules = run.stdout.strip().splitlines()
    assert [json.loads(line)["path"] for line in hits] == ["rivers.md"]
    loaded = set(json.loads(modules))
    assert "lancedb" in loaded
    assert not NOT_FOR_KEYWORDS & loaded, sorted(NOT_FOR_KEYWORDS & loaded)
