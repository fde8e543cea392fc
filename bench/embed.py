"""Benchmarks for the vault's embedders: PyTorch int8 (the default until ONNX), PyTorch float32, ONNX int8
and OpenVINO bf16.

Run from the repository root::

    .venv/bin/python bench/embed.py [--rounds N] [--searches N] [--no-cli] [--markdown]

Measured in one run, each against PyTorch int8 measured in the same run:

* throughput: ``embed()`` chunks/s over every chunk of the shipped sample vault (``tenure/data/vault``,
  chunked as the index does), one worker process per embedder (so no library's thread pool runs beside
  another's), driven one at a time in rounds with a rotating order; median over rounds, and the median of
  the per-round ratios to PyTorch int8 at batch 32 (the index's path until now); ONNX int8 and OpenVINO
  bf16 at batch sizes 8 to 128, PyTorch int8 at 16 too;
* cold start: a fresh process per embedder that imports ``tenure.memory.embed``, loads the embedder and
  embeds one query (median of 3); the ONNX export at first use, timed in a fresh ``TENURE_HOME``;
* agreement: for the labelled queries (``tenure/data/vault_queries.jsonl``), the top 10 of an exact
  (brute-force cosine) search over the sample vault's chunk vectors, each exported embedder against
  PyTorch int8 and against float32, by chunk and by note (each note by its best chunk, as ``search()``
  returns them);
  the cosine of each embedder's chunk vectors with float32's; note recall@5 against the labels;
* the CLI: ``tenure vault search --mode hybrid`` (and keyword) in a fresh process on an index of the
  sample vault made with the default ``vault.precision`` (auto) and int8 (median of ``--searches``).

``TENURE_HOME`` and the config are temporary. Nothing here fails on a missed target: the table says
whether it was met.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from tenure.config import EmbedPrecision

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/embed.py` puts bench/, not the repo root, on sys.path
    sys.path.insert(0, str(ROOT))

LIBRARIES = ("torch", "sentence-transformers", "onnxruntime", "openvino", "tokenizers")

from bench.report import Row, context_line, mark, positive, show  # noqa: E402
from tenure.resources import data_path  # noqa: E402

SAMPLE_VAULT = data_path("vault")
SAMPLE_QUERIES = data_path("vault_queries.jsonl")
EMBEDDERS = ("int8", "float32", "onnx-int8", "bf16")
EXPORTED = ("onnx-int8", "bf16")
LABELS = {
    "int8": "PyTorch int8",
    "float32": "PyTorch float32",
    "onnx-int8": "ONNX int8",
    "bf16": "OpenVINO bf16",
}
BATCHES = (8, 16, 32, 64, 128)
DEFAULT_BATCH = {"onnx-int8": 8, "bf16": 32}
SPEEDUP_TARGET = 2.0
AGREEMENT_TARGET = 0.95
COLD_KEYWORD_TARGET_S = 1.5
COLD_HYBRID_TARGET_S = 2.5
COLD_RUNS = 3
QUERY = "invoice"


def sample() -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """Every chunk's embedded text of the sample vault (default chunker settings), its note, the queries."""
    from tenure.config import VaultConfig
    from tenure.memory.chunker import chunk_text
    from tenure.memory.notes import Note, read_note, scan

    config = VaultConfig()
    texts: list[str] = []
    notes: list[str] = []
    for state in scan(SAMPLE_VAULT):
        note = read_note(SAMPLE_VAULT, state, config.max_note_bytes)
        assert isinstance(note, Note), note
        for c in chunk_text(
            note.title, note.body, max_chars=config.chunk_chars, overlap=config.chunk_overlap
        ):
            texts.append(c.embed_text)
            notes.append(note.path)
    queries = [json.loads(line) for line in SAMPLE_QUERIES.read_text().splitlines() if line.strip()]
    return texts, notes, queries


# -- a worker process per embedder ------------------------------------------------------------------------


def worker(name: str) -> None:
    """Answer commands on stdin with one JSON line each: ``load``, ``time BATCH``, ``vectors PATH``."""
    import numpy as np

    from tenure.memory.embed import embed, embedder_name

    precision = cast("EmbedPrecision", name)
    texts, _, queries = sample()
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        out: dict[str, Any] = {}
        if command == "load":
            started = time.perf_counter()
            embed([QUERY], precision=precision)
            out = {"seconds": time.perf_counter() - started, "name": embedder_name(precision)}
            embed(texts[:32], precision=precision)  # warm-up
        elif command == "time":
            wall, cpu = time.perf_counter(), time.process_time()
            embed(texts, precision=precision, batch_size=int(arg))
            out = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
        elif command == "vectors":
            np.save(f"{arg}.chunks.npy", embed(texts, precision=precision))
            np.save(f"{arg}.queries.npy", embed([q["query"] for q in queries], precision=precision))
        print(json.dumps(out), flush=True)


class Worker:
    def __init__(self, precision: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", precision],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"embedder worker died (exit {self.proc.wait()})")
        return json.loads(line)

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def throughput(workers: dict[str, Worker], chunks: int, rounds: int) -> list[Row]:
    """Chunks/s per variant, one worker busy at a time, rotating the order round by round."""
    baseline = ("int8", 32)  # embed()'s batch size for PyTorch, as the index ran it until now
    variants = [baseline, ("int8", 16), ("float32", 32), *((p, b) for p in EXPORTED for b in BATCHES)]
    walls: dict[tuple[str, int], list[float]] = {v: [] for v in variants}
    cpus: dict[tuple[str, int], list[float]] = {v: [] for v in variants}
    for r in range(rounds):
        for precision, batch in variants[r % len(variants) :] + variants[: r % len(variants)]:
            t = workers[precision].ask(f"time {batch}")
            walls[precision, batch].append(t["wall"])
            cpus[precision, batch].append(t["cpu"])
    rate = {v: chunks / statistics.median(w) for v, w in walls.items()}
    ratio = {
        v: statistics.median(b / w for w, b in zip(walls[v], walls[baseline], strict=True)) for v in variants
    }
    cpu_ms = {v: 1000 * statistics.median(c) / chunks for v, c in cpus.items()}

    def line(v: tuple[str, int]) -> str:
        return f"{rate[v]:.1f} chunks/s (×{ratio[v]:.2f}) · {cpu_ms[v]:.1f} CPU-ms/chunk"

    rows = [
        Row(
            "embed() PyTorch int8 (baseline)",
            line(baseline),
            notes=f"all {chunks} chunks per call, batch 32 (its default); median of {rounds} rounds; "
            f"×: median per-round ratio to this row. At batch 16: {line(('int8', 16))}",
        ),
        Row("embed() PyTorch float32", line(("float32", 32)), notes="same texts and method, batch 32"),
    ]
    for p in EXPORTED:
        default = (p, DEFAULT_BATCH[p])
        rows.append(
            Row(
                f"embed() {LABELS[p]}",
                line(default),
                f"{mark(ratio[default] >= SPEEDUP_TARGET)} ≥ ×{SPEEDUP_TARGET:.0f} PyTorch int8",
                f"batch {DEFAULT_BATCH[p]} (its default); by batch size: "
                + " · ".join(f"{b}: {line((p, b))}" for b in BATCHES)
                + f"; fastest here: {max(BATCHES, key=lambda b: rate[p, b])}",
            )
        )
    return rows


# -- cold start -------------------------------------------------------------------------------------------

COLD_PROBE = """
import json, sys, time
started = time.perf_counter()
from tenure.memory.embed import embed
embed([{query!r}], precision={precision!r})
seconds = time.perf_counter() - started
heavy = sorted({{m.split('.')[0] for m in sys.modules}}
               & {{'torch', 'transformers', 'sentence_transformers'}})
print(json.dumps({{"seconds": seconds, "heavy": heavy}}))
"""


def cold_start(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Import + load + one query embedding in a fresh process, per embedder (median of ``COLD_RUNS``)."""
    out: dict[str, dict[str, Any]] = {}
    for precision in EMBEDDERS:
        runs = []
        for _ in range(COLD_RUNS):
            started = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-c", COLD_PROBE.format(query=QUERY, precision=precision)],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
                env=env,
            )
            runs.append(
                {**json.loads(proc.stdout.strip().splitlines()[-1]), "process": time.perf_counter() - started}
            )
        out[precision] = {
            "seconds": statistics.median(r["seconds"] for r in runs),
            "process": statistics.median(r["process"] for r in runs),
            "heavy": runs[0]["heavy"],
        }
    return out


def cold_rows(cold: dict[str, dict[str, Any]], export: dict[str, Any]) -> list[Row]:
    torch_int8 = cold["int8"]
    return [
        Row(
            "ONNX export (first use)",
            f"{export['seconds']:.1f} s",
            notes=f"the first embed() in a fresh TENURE_HOME: torch.onnx.export of the packaged model, "
            f"quantize_dynamic, sha256 manifest; recorded as {export['name']} (ONNX int8)",
        ),
        Row(
            "cold query embedding",
            " · ".join(f"{LABELS[p]} {cold[p]['seconds']:.2f} s" for p in EMBEDDERS),
            notes="fresh process: import tenure.memory.embed + load + embed one query "
            f"(median of {COLD_RUNS}; "
            "whole process incl. interpreter start: "
            + " · ".join(f"{cold[p]['process']:.2f} s" for p in EMBEDDERS)
            + "); faster to start than PyTorch int8: "
            + " · ".join(f"{LABELS[p]} ×{torch_int8['seconds'] / cold[p]['seconds']:.1f}" for p in EXPORTED)
            + "; heavy libraries loaded: "
            + " · ".join(f"{LABELS[p]} {', '.join(cold[p]['heavy']) or 'none'}" for p in EXPORTED)
            + f" (PyTorch int8: {', '.join(torch_int8['heavy'])})",
        ),
    ]


# -- agreement --------------------------------------------------------------------------------------------


def agreement(vectors: dict[str, Any], notes: list[str], queries: list[dict[str, Any]]) -> list[Row]:
    """Top-10 overlap of exact vector search between embedders, cosine with float32, recall@5."""
    import numpy as np

    def ranked(precision: str) -> list[list[int]]:
        chunks, qs = vectors[precision]
        return [list(np.argsort(-(chunks @ q), kind="stable")) for q in qs]

    def by_note(order: list[int], k: int) -> list[str]:
        seen: list[str] = []
        for i in order:
            if notes[i] not in seen:
                seen.append(notes[i])
                if len(seen) == k:
                    break
        return seen

    ranks = {p: ranked(p) for p in EMBEDDERS}

    def overlap(a: str, b: str) -> tuple[float, float]:
        chunk = statistics.fmean(
            len(set(x[:10]) & set(y[:10])) / 10 for x, y in zip(ranks[a], ranks[b], strict=True)
        )
        note = statistics.fmean(
            len(set(by_note(x, 10)) & set(by_note(y, 10))) / 10
            for x, y in zip(ranks[a], ranks[b], strict=True)
        )
        return chunk, note

    def recall(p: str) -> float:
        return statistics.fmean(
            len(set(by_note(order, 5)) & set(q["relevant"])) / len(q["relevant"])
            for order, q in zip(ranks[p], queries, strict=True)
        )

    def cosine(p: str) -> str:
        c = (vectors[p][0] * vectors["float32"][0]).sum(1)
        return f"min {c.min():.4f} · mean {c.mean():.4f}"

    int8_f32 = overlap("int8", "float32")
    method = (
        f"{len(queries)} labelled queries, exact cosine search over the {len(notes)} chunk vectors of the "
        "sample vault; chunks: top 10 chunks; notes: top 10 notes, each by its best chunk (what search() "
        f"returns). For scale, PyTorch int8 vs float32: chunks {int8_f32[0]:.3f} · notes {int8_f32[1]:.3f}"
    )
    rows = []
    for p in EXPORTED:
        for other in ("int8", "float32"):
            chunk, note = overlap(p, other)
            rows.append(
                Row(
                    f"top-10 agreement {LABELS[p]} vs {LABELS[other]}",
                    f"chunks {chunk:.3f} · notes {note:.3f}",
                    f"{mark(note >= AGREEMENT_TARGET)} ≥ {AGREEMENT_TARGET}",
                    method if not rows else "",
                )
            )
    return [
        *rows,
        Row(
            "cosine with float32 vectors",
            " · ".join(f"{LABELS[p]} {cosine(p)}" for p in EXPORTED),
            notes=f"per chunk, the same {len(notes)} chunks; PyTorch int8 {cosine('int8')}",
        ),
        Row(
            "note recall@5 (exact vector search)",
            " · ".join(f"{LABELS[p]} {recall(p):.3f}" for p in EMBEDDERS),
            notes="against the queries' labelled notes",
        ),
    ]


# -- the CLI ----------------------------------------------------------------------------------------------


def cli_rows(tmp: Path, env: dict[str, str], searches: int) -> list[Row]:
    """Cold ``tenure vault search`` in a fresh process, on indexes made with the default and with int8."""
    tenure = [sys.executable, "-m", "tenure.cli"]
    times: dict[str, list[float]] = {}
    for precision in ("auto", "int8"):
        config = tmp / f"{precision}.toml"
        config.write_text(f'[vault]\nprecision = "{precision}"\n')
        run_env = {**env, "TENURE_CONFIG": str(config)}
        index = subprocess.run(
            [*tenure, "vault", "index", str(SAMPLE_VAULT), "--full"],
            capture_output=True,
            text=True,
            env=run_env,
        )
        if index.returncode != 0:
            raise RuntimeError(f"tenure vault index failed:\n{index.stderr}")
        for mode in ("hybrid", "keyword"):
            key = f"{precision} {mode}"
            times[key] = []
            for _ in range(searches):
                started = time.perf_counter()
                subprocess.run(
                    [*tenure, "vault", "search", "--mode", mode, QUERY],
                    capture_output=True,
                    check=True,
                    env=run_env,
                )
                times[key].append(time.perf_counter() - started)

    def median(key: str) -> str:
        return f"{statistics.median(times[key]):.2f} s"

    method = (
        f"python -m tenure.cli vault search --mode MODE {QUERY!r}, a fresh process each, "
        f"median of {searches}, "
        "sample vault indexed with the default vault.precision, auto (PyTorch int8, the path before #16, in "
        "brackets)"
    )
    rows = []
    for mode, target in (("hybrid", COLD_HYBRID_TARGET_S), ("keyword", COLD_KEYWORD_TARGET_S)):
        took = statistics.median(times[f"auto {mode}"])
        rows.append(
            Row(
                f"cold `tenure vault search` {mode}",
                f"{median(f'auto {mode}')} (PyTorch int8 index: {median(f'int8 {mode}')})",
                f"{mark(took <= target)} ≤ {target} s",
                method if mode == "hybrid" else "same method; imports no embedder",
            )
        )
    return rows


# -- output -----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=positive, default=5, help="throughput rounds (default 5)")
    parser.add_argument("--searches", type=positive, default=5, help="cold CLI searches per mode (default 5)")
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI search timings")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    parser.add_argument("--worker", choices=EMBEDDERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return

    import numpy as np

    started, load = time.perf_counter(), os.getloadavg()[0]
    texts, notes, queries = sample()
    chars = statistics.fmean(len(t) for t in texts)
    with tempfile.TemporaryDirectory(prefix="tenure-bench-") as tmp:
        env = {**os.environ, "TENURE_HOME": str(Path(tmp) / "home"), "HF_HUB_OFFLINE": "1"}
        env.pop("TENURE_CONFIG", None)
        workers = {p: Worker(p, env) for p in EMBEDDERS}
        try:
            export = workers["onnx-int8"].ask("load")  # the first use: exports into the fresh home
            for p in EMBEDDERS:
                if p != "onnx-int8":
                    workers[p].ask("load")
            rows = [
                Row(
                    "sample",
                    f"{len(texts)} chunks · {len(queries)} queries",
                    notes="every chunk of tenure/data/vault as the index embeds it (title + headings + text, "
                    f"mean {chars:.0f} chars); the labelled queries of tenure/data/vault_queries.jsonl",
                )
            ]
            speed_rows = throughput(workers, len(texts), args.rounds)
            vectors = {}
            for p, w in workers.items():
                w.ask(f"vectors {tmp}/{p}")
                vectors[p] = (np.load(f"{tmp}/{p}.chunks.npy"), np.load(f"{tmp}/{p}.queries.npy"))
        finally:
            for w in workers.values():
                w.close()
        rows += speed_rows
        rows += cold_rows(cold_start(env), export)
        rows += agreement(vectors, notes, queries)
        if not args.no_cli:
            rows += cli_rows(Path(tmp), env, args.searches)
    context = (
        context_line(load, LIBRARIES)
        + f" · load avg at end {os.getloadavg()[0]:.2f}"
        + f" · total bench time {time.perf_counter() - started:.0f} s"
    )
    show(rows, context, "tenure embedder benchmarks", args.markdown)


if __name__ == "__main__":
    main()
