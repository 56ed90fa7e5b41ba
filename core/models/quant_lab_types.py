"""Plain data of the quantization lab, its choices and defaults.

No numpy import at module level, so the GUI can import these for free; the arrays inside come
from numpy, loaded by the time one exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# Types offered in the lab, most aggressive first, with their nominal bits per weight.
QUANT_TYPES: dict[str, float] = {
    "Q2_K": 2.6, "Q3_K_S": 3.4, "Q3_K_M": 3.9, "Q4_0": 4.5, "Q4_K_S": 4.6, "Q5_K_M": 5.7,
    "Q6_K": 6.6, "Q8_0": 8.5,
}
DEFAULT_TYPE = "Q2_K"


@dataclass(frozen=True)
class QuantizedCopy:
    source: str
    path: str
    quant_type: str
    source_size: int  # bytes
    size: int  # bytes
    tensor_types: dict[str, int]  # ggml type name -> tensors of that type in the copy
    elapsed_s: float

    @property
    def ratio(self) -> float:
        return self.size / self.source_size if self.source_size else 0.0


MAX_TOKENS = 512
DEFAULT_TEXT = (
    "The lighthouse keeper climbed the spiral stairs every evening at dusk. From the top he "
    "could see the fishing boats returning to the harbour, their lamps swaying on the dark "
    "water. In 1887 a storm broke the great lens, and for three weeks the ships had to find "
    "their way by the stars alone. When the new lens arrived from Paris, the whole village "
    "gathered on the cliff to watch it shine."
)


@dataclass(frozen=True)
class QuantComparison:
    """The two models' readings of one text. Arrays over positions are indexed by the token
    they predict: entry i is about token i + 1 (the first token has no prediction)."""

    original: str
    quantized: str
    original_size: int  # bytes
    quantized_size: int
    pieces: list[str]  # every token of the text, as text
    ids: list[int]
    perplexity_original: float
    perplexity_quantized: float
    kl: np.ndarray  # float64 [n_tokens - 1], nats
    flips: np.ndarray  # bool [n_tokens - 1]
    top_original: list[str]  # the original's most likely next token, per position
    top_quantized: list[str]
    drift_cosine: np.ndarray  # float64 [n_layer], mean over positions of 1 - cos
    drift_relative_l2: np.ndarray  # float64 [n_layer], mean of |q - o| / |o|

    @property
    def mean_kl(self) -> float:
        return float(self.kl.mean()) if len(self.kl) else 0.0

    @property
    def n_flips(self) -> int:
        return int(self.flips.sum())


def summary_rows(result: QuantComparison) -> list[tuple[str, str, str]]:
    """(measure, original, quantized) rows for a table; plain text, for the GUI and the CLI."""
    mb = 1_000_000  # as file managers count
    return [
        ("File size", f"{result.original_size / mb:.1f} MB", f"{result.quantized_size / mb:.1f} MB"
         f" ({result.quantized_size / max(result.original_size, 1):.0%})"),
        ("Perplexity on the text", f"{result.perplexity_original:.2f}",
         f"{result.perplexity_quantized:.2f}"),
        ("Mean KL(original ‖ quantized)", "—", f"{result.mean_kl:.4f} nats"),
        ("Top-1 flips", "—", f"{result.n_flips} of {len(result.flips)} tokens"),
        ("Residual drift, last layer (1 − cos)", "—",
         f"{float(result.drift_cosine[-1]):.4f}" if len(result.drift_cosine) else "—"),
    ]
