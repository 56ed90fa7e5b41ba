"""The plain events of a tiny-transformer training run (picklable: they cross a process pipe)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Started:
    parameters: int  # trainable parameters of the tiny model
    exported_parameters: int  # in the GGUF, with one embedding row per vocabulary token
    vocab_rows: int  # seen tokens + 1 shared row for the unseen ones
    full_vocab: int
    train_tokens: int
    held_out_tokens: int
    unigram_entropy: float  # nats on the held-out tokens: the bar a real model must beat
    memory_bytes: int  # the estimate checked before training
    start_step: int  # 0, or the checkpoint's step on resume
    total_steps: int


@dataclass(frozen=True)
class Step:
    step: int
    train_loss: float
    tokens_per_s: float  # of the training steps alone (events not counted)


@dataclass(frozen=True)
class HeldOut:
    step: int
    loss: float


@dataclass(frozen=True)
class Sample:
    step: int
    prompt: str
    text: str  # what the model wrote after the prompt


@dataclass(frozen=True)
class AttentionMaps:
    step: int
    tokens: tuple[str, ...]  # the probe sentence's pieces
    maps: np.ndarray  # (layers, heads, tokens, tokens): each row sums to 1 over the past


@dataclass(frozen=True)
class Embeddings:
    step: int
    pieces: tuple[str, ...]  # the seen tokens
    xy: np.ndarray  # (tokens, 2): their embedding rows by principal components
    explained: tuple[float, float]


@dataclass(frozen=True)
class Paused:
    step: int
    checkpoint: str


@dataclass(frozen=True)
class Finished:
    status: str  # "done", "cancelled", "diverged" or "failed"
    step: int
    message: str
    checkpoint: str | None  # the latest checkpoint (resume or export from it)

    @property
    def ok(self) -> bool:
        return self.status == "done"


Event = Started | Step | HeldOut | Sample | AttentionMaps | Embeddings | Paused | Finished
