"""Plain data about what a GGUF file holds: its tensors, its architecture, a weight histogram.

Read from the file alone (core.models.anatomy), shown by the Learn tab's anatomy panel. No numpy
import at module level, so the GUI can import these types at start-up for free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]  # numpy order (rows first), as transformers would show it
    type_name: str  # "Q4_1", "F32", ...
    n_elements: int
    n_bytes: int

    @property
    def bits_per_weight(self) -> float:
        return 8.0 * self.n_bytes / self.n_elements if self.n_elements else 0.0


@dataclass(frozen=True)
class ArchitectureSummary:
    architecture: str
    n_layer: int | None
    n_head: int | None
    n_head_kv: int | None
    n_embd: int | None
    head_dim: int | None
    n_ff: int | None
    context_length: int | None
    vocab_size: int | None
    rope_freq_base: float | None
    rope_dimension_count: int | None
    rope_scaling: str | None  # "linear", "yarn", ... or None when the model does not scale
    rope_scaling_factor: float | None
    norm_eps: float | None
    tied_embeddings: bool  # no output.weight: the token embedding matrix doubles as output


@dataclass(frozen=True)
class AnatomyView:
    path: str
    file_size: int
    parameter_count: int
    metadata: dict[str, Any]  # long arrays (vocabulary, merges) summarised as "<array of N>"
    summary: ArchitectureSummary
    tensors: list[TensorInfo]


@dataclass(frozen=True)
class WeightHistogram:
    tensor: str
    type_name: str
    counts: np.ndarray  # int64 [bins]
    edges: np.ndarray  # float64 [bins + 1]
    n_values: int
    minimum: float
    maximum: float
    mean: float
    std: float
