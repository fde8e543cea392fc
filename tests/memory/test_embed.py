"""The embedders: names an index records, the ONNX export (made once, checked, rebuilt when corrupt), a
query embedded without PyTorch, vectors that match the float model's, and the fallbacks (bf16, onnx-int8,
PyTorch int8)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tenure.config import VaultConfig
from tenure.memory.chunker import chunk_text
from tenure.memory.embed import MODEL, PRECISIONS, embed, embedder_name, precision_of
from tenure.memory.index import (
    Plan,
    Report,
    batches,
    finished_pass,
    index_batch,
    plan,
    remove_deleted,
    start_pass,
)
from tenure.memory.notes import Note, read_note, scan
from tenure.memory.onnx_embed import Backend, failed, load, model_dir, native_bf16
from tenure.resources import data_path
from tenure.store.vault import VaultStore

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = data_path("vault")
SENTENCES = [
    "The invoice INV-2026-0417 was paid 32 days late.",
    "why did I move the home server to Proxmox?",
    "Sofia prefers meetings in the morning, before ten.",
    "  Leading and trailing whitespace is stripped.  ",
    "A long note that runs past the model's 256 word pieces. " * 40,
]
HEAVY = ("torch", "transformers", "sentence_transformers", "onnx")


def python(code: str, home: Path, *, block: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with ``TENURE_HOME=home`` (``block``: a module it can't import)."""
    prelude = f"import sys; sys.modules[{block!r}] = None\n" if block else ""
    env = {**os.environ, "TENURE_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    env.pop("TENURE_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-c", prelude + code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300
    )


NAME_PROBE = "from tenure.memory.embed import embedder_name; print(embedder_name({precision!r}))"


def name_in_process(home: Path, precision: str = "onnx-int8") -> str:
    return python(NAME_PROBE.format(precision=precision), home).stdout.strip()


EMBED_PROBE = """
import json, logging, sys
logging.basicConfig(level=logging.INFO)
from tenure.memory.embed import embed, embedder_name
vectors = embed({texts!r}, precision={precision!r})
print(json.dumps({{"vectors": vectors.tolist(), "name": embedder_name({precision!r}),
                  "modules": sorted({{m.split('.')[0] for m in sys.modules}})}}))
"""


def embed_in_process(home: Path, texts: list[str], precision: str = "onnx-int8", **kw: str) -> dict:
    run = python(EMBED_PROBE.format(texts=texts, precision=precision), home, **kw)
    assert run.returncode == 0, run.stderr
    return {**json.loads(run.stdout.strip().splitlines()[-1]), "stderr": run.stderr}


# -- names (fast) -----------------------------------------------------------------------------------------


def test_the_default_is_auto_and_every_precision_name_reads_back():
    assert VaultConfig().precision == "auto"
    assert PRECISIONS == ("auto", "bf16", "onnx-int8", "int8", "float32")
    for precision in ("int8", "float32"):
        assert precision_of(embedder_name(precision)) == precision
    for precision in ("bf16", "onnx-int8"):
        assert precision_of(f"{MODEL}/{precision}") == precision
    assert precision_of(None) == precision_of("all-MiniLM-L6-v2") == "int8"  # indexes from before the names


def test_auto_names_bf16_only_on_a_cpu_that_computes_it(tmp_path: Path):
    assert name_in_process(tmp_path / "home", "auto") == f"{MODEL}/{'bf16' if native_bf16() else 'onnx-int8'}"


def test_after_a_failed_export_the_index_records_pytorch_int8_until_a_library_changes(tmp_path: Path):
    home = tmp_path / "home"
    assert name_in_process(home) == f"{MODEL}/onnx-int8"
    failed(home, "export", RuntimeError("no space left on device"))
    assert name_in_process(home) == name_in_process(home, "bf16") == f"{MODEL}/int8"
    record_file = model_dir(home).with_name("minilm-onnx.export.failed")
    record = json.loads(record_file.read_text())
    record_file.write_text(json.dumps({**record, "versions": {**record["versions"], "onnxruntime": "0.0.1"}}))
    assert name_in_process(home) == f"{MODEL}/onnx-int8"  # upgraded: try again


def test_after_openvino_failed_bf16_stands_for_onnx_int8(tmp_path: Path):
    home = tmp_path / "home"
    assert name_in_process(home, "bf16") == f"{MODEL}/bf16"
    failed(home, "bf16", RuntimeError("unsupported CPU"))
    assert name_in_process(home, "bf16") == f"{MODEL}/onnx-int8"
    assert name_in_process(home, "auto") == f"{MODEL}/onnx-int8"


# -- the export and its vectors (slow) --------------------------------------------------------------------


@pytest.fixture(scope="session")
def onnx_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One home whose ONNX export every slow test here shares (made in a process of its own)."""
    home = tmp_path_factory.mktemp("onnx-home")
    run = python("from tenure.memory.embed import embed; embed(['warm up'], precision='onnx-int8')", home)
    assert run.returncode == 0, run.stderr
    return home


def sample_chunks() -> tuple[list[str], list[str]]:
    config = VaultConfig()
    texts, notes = [], []
    for state in scan(SAMPLE):
        note = read_note(SAMPLE, state, config.max_note_bytes)
        assert isinstance(note, Note)
        for c in chunk_text(
            note.title, note.body, max_chars=config.chunk_chars, overlap=config.chunk_overlap
        ):
            texts.append(c.embed_text)
            notes.append(note.path)
    return texts, notes


def top_notes(chunks: np.ndarray, query: np.ndarray, notes: list[str], k: int = 10) -> list[str]:
    """The ``k`` best notes of an exact search, each by its best chunk (as ``search()`` returns them)."""
    best: list[str] = []
    for i in np.argsort(-(chunks @ query), kind="stable"):
        if notes[i] not in best:
            best.append(notes[i])
    return best[:k]


@pytest.mark.slow
def test_the_export_is_checksummed_and_a_query_needs_neither_torch_nor_transformers(onnx_home: Path):
    folder = model_dir(onnx_home)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert sorted(manifest["sha256"]) == ["float.onnx", "model.onnx", "tokenizer.json"]
    # int8 weights: a quarter of the float model
    assert (folder / "model.onnx").stat().st_size < 30e6 < 80e6 < (folder / "float.onnx").stat().st_size

    for precision, library in (("onnx-int8", "onnxruntime"), ("bf16", "openvino")):
        found = embed_in_process(onnx_home, ["invoice"], precision)
        assert found["name"] == f"{MODEL}/{precision}"
        assert not set(HEAVY) & set(found["modules"]), found["modules"]
        assert {library, "tokenizers"} <= set(found["modules"])
        assert np.linalg.norm(found["vectors"][0]) == pytest.approx(1.0, abs=1e-5)
        assert "WARNING" not in found["stderr"]


@pytest.mark.slow
def test_onnx_int8_vectors_match_the_float_models(onnx_home: Path):
    onnx = load(onnx_home, "onnx-int8")
    vectors, reference = onnx.encode(SENTENCES, 32), embed(SENTENCES, precision="float32")
    cosines = (vectors * reference).sum(axis=1)
    assert cosines.min() >= 0.98, cosines  # measured 0.991–0.996
    # a text's activations are quantized with its batch's scale, so alone it comes out a little different
    alone = np.concatenate([onnx.encode([s], 1) for s in SENTENCES])
    assert (alone * reference).sum(axis=1).min() >= 0.98  # measured 0.991–0.996


@pytest.mark.slow
def test_bf16_vectors_are_the_float_models(onnx_home: Path):
    vectors = load(onnx_home, "bf16").encode(SENTENCES, 32)
    cosines = (vectors * embed(SENTENCES, precision="float32")).sum(axis=1)
    assert cosines.min() >= 0.999, cosines  # measured 0.99997 on AMX


@pytest.mark.slow
@pytest.mark.parametrize(("backend", "cosine", "agrees"), [("onnx-int8", 0.97, 0.88), ("bf16", 0.999, 0.98)])
def test_exported_embedders_find_what_the_float_model_finds_on_the_labelled_queries(
    onnx_home: Path, backend: Backend, cosine: float, agrees: float
):
    texts, notes = sample_chunks()
    queries = [
        json.loads(line)["query"] for line in data_path("vault_queries.jsonl").read_text().splitlines()
    ]
    encoder = load(onnx_home, backend)
    ours, theirs = encoder.encode(texts, 32), embed(texts, precision="float32")
    ours_q, theirs_q = encoder.encode(queries, 32), embed(queries, precision="float32")
    assert (ours * theirs).sum(axis=1).min() >= cosine  # measured onnx-int8 0.979 (mean 0.992), bf16 0.99996
    agreement = np.mean(
        [
            len(set(top_notes(ours, q, notes)) & set(top_notes(theirs, r, notes))) / 10
            for q, r in zip(ours_q, theirs_q, strict=True)
        ]
    )
    assert agreement >= agrees  # measured onnx-int8 0.91, bf16 1.0 (PyTorch int8 against float32: 0.81)


@pytest.mark.slow
def test_a_corrupt_export_is_made_again_with_one_warning(
    onnx_home: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    home = tmp_path / "home"
    shutil.copytree(onnx_home / "models", home / "models")
    model = model_dir(home) / "model.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="tenure.memory.onnx_embed"):
        encoder = load(home, "onnx-int8")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        f"the ONNX export of minilm-onnx at {model_dir(home)} is model.onnx does not match its sha256 "
        "in manifest.json: exporting it again"
    ]
    assert (
        model.read_bytes() == (model_dir(onnx_home) / "model.onnx").read_bytes()
    )  # the export is repeatable
    assert encoder.encode(["invoice"], 1).shape == (1, 384)
    assert sorted(p.name for p in (home / "models").iterdir()) == ["minilm-onnx", "minilm-onnx.lock"]


@pytest.mark.slow
def test_two_first_uses_at_once_export_once_and_agree(tmp_path: Path):
    home = tmp_path / "home"
    (home / "models" / "minilm-onnx-int8").mkdir(parents=True)  # an export of the first format: removed
    code = EMBED_PROBE.format(texts=SENTENCES[:2], precision="onnx-int8")
    env = {**os.environ, "TENURE_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    assert results[0]["vectors"] == results[1]["vectors"]
    assert sum(err.count("exported all-MiniLM-L6-v2") for _, err in outs) == 1
    assert sorted(p.name for p in (home / "models").iterdir()) == ["minilm-onnx", "minilm-onnx.lock"]


@pytest.mark.slow
def test_without_onnxruntime_pytorch_int8_embeds_and_is_what_the_index_records(tmp_path: Path):
    found = embed_in_process(tmp_path / "home", SENTENCES[:2], block="onnxruntime")
    assert found["name"] == f"{MODEL}/int8"
    assert found["stderr"].count("WARNING") == 1 and "using PyTorch int8 instead" in found["stderr"]
    reference = embed_in_process(tmp_path / "home", SENTENCES[:2], precision="int8")
    assert np.allclose(found["vectors"], reference["vectors"], atol=1e-6)


@pytest.mark.slow
def test_without_openvino_bf16_falls_back_to_onnx_int8_with_one_warning(onnx_home: Path):
    found = embed_in_process(onnx_home, SENTENCES[:2], "bf16", block="openvino")
    assert found["name"] == f"{MODEL}/onnx-int8"
    assert found["stderr"].count("WARNING") == 1 and "using onnx-int8 instead" in found["stderr"]
    reference = embed_in_process(onnx_home, SENTENCES[:2], "onnx-int8")
    assert np.allclose(found["vectors"], reference["vectors"], atol=1e-6)


@pytest.mark.slow
def test_a_failed_export_falls_back_once_and_is_remembered(tmp_path: Path):
    home = tmp_path / "home"
    found = embed_in_process(home, SENTENCES[:1], block="onnx")  # the export needs onnx; loading does not
    assert found["name"] == f"{MODEL}/int8"
    assert found["stderr"].count("WARNING") == 1 and "ModuleNotFoundError" in found["stderr"]
    assert not model_dir(home).exists()
    assert name_in_process(home) == f"{MODEL}/int8"  # the next pass will not re-embed


def one_pass(root: Path, store: VaultStore, config: VaultConfig) -> tuple[Plan, Report]:
    """An index pass as the ``vault_embed`` flow makes it, without Prefect."""
    started = dt.datetime.now(dt.UTC)
    todo = plan(root, store, config)
    start_pass(todo, store)
    report = Report()
    for files in batches(todo.todo, config):
        report += index_batch(root, files, todo.known, store, config)
    report += remove_deleted(todo, store)
    store.refresh(config.ann_min_chunks)
    store.record_run(finished_pass(todo, report, config, started=started))
    return todo, report


@pytest.mark.slow
def test_a_pytorch_int8_index_is_re_embedded_whole_by_the_new_default(
    onnx_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TENURE_HOME", str(onnx_home))
    vault = tmp_path / "vault"
    for rel in ("projects/invoicing-automation.md", "patterns/invoice-chasing.md", "people/priya-raman.md"):
        (vault / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SAMPLE / rel, vault / rel)
    store = VaultStore(tmp_path / "index")
    _, first = one_pass(vault, store, VaultConfig(precision="int8"))
    assert store.embedder() == f"{MODEL}/int8"

    again, second = one_pass(vault, store, VaultConfig())
    default = embedder_name("auto")
    assert again.full and again.warnings == [
        f"the index was made by {MODEL}/int8, vault.precision asks for {default}: re-embedding all"
    ]
    assert second.chunks_embedded == first.chunks_embedded > 0
    assert store.embedder() == default
    last, third = one_pass(vault, store, VaultConfig())
    assert (last.full, last.unchanged, third.chunks_embedded) == (False, 3, 0)
