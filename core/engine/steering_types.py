"""Plain data of the steering lab: pairs in, a direction per layer, and what steering did.

Kept apart from the computation (steering.py needs numpy and llama.cpp) so the window and the
CLI can import these types without paying for either. Directions travel as nested tuples of
floats, not numpy arrays, so a view pickles across the engine pipe and prints as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Method = Literal["mean", "pca"]
Pooling = Literal["mean", "last"]

STRENGTH_MAX = 2.0  # the slider's reach either way; further out the 135M model only babbles
DEFAULT_STRENGTHS = (-2.0, -1.0, 0.0, 1.0, 2.0)


@dataclass(frozen=True)
class SteeringPair:
    positive: str
    negative: str


@dataclass(frozen=True)
class LayerSeparation:
    """How well one layer's direction tells the positive texts from the negative ones.

    `accuracy`: leave-one-pair-out, the share of pairs whose positive text projects above its
    negative one on the direction built from the *other* pairs (0.5 is chance); `effect`:
    the gap between the mean projections of the two sides over their pooled standard
    deviation (Cohen's d, on the direction from all pairs). Both are None with one pair: a
    single pair has nothing left over to test on.
    """

    layer: int
    accuracy: float | None
    effect: float | None
    diff_norm: float  # length of the mean difference (positive - negative) here
    residual_norm: float  # mean length of the pooled residual vectors here


@dataclass(frozen=True)
class SteeringDirection:
    """A direction per layer, built from contrastive pairs on one model.

    `vectors[i]` belongs to layer i (0..n_layer-1): unit length, pointing from negative to
    positive. `scales[i]` is the length of the mean difference at layer i; strength 1 adds
    `scales[i] / sqrt(k)` along it at each of k steered layers (steering.py says why).
    """

    model_path: str
    architecture: str
    n_layer: int
    n_embd: int
    method: Method
    pooling: Pooling
    n_pairs: int
    vectors: tuple[tuple[float, ...], ...]
    scales: tuple[float, ...]
    separation: tuple[LayerSeparation, ...]
    note: str = ""  # what the person should know (one pair, very uneven lengths)

    @property
    def best_layer(self) -> int:
        """The steerable layer (1 and up: llama.cpp never steers layer 0) that separates best."""
        usable = [s for s in self.separation if s.layer >= 1]

        def key(s: LayerSeparation) -> tuple[float, float]:
            return (s.accuracy or 0.0, s.effect or 0.0)

        return max(usable, key=key).layer if usable else 1


@dataclass(frozen=True)
class TokenShift:
    piece: str
    prob: float  # at this strength
    base_prob: float  # at strength 0

    @property
    def shift(self) -> float:
        return self.prob - self.base_prob


@dataclass(frozen=True)
class SteeredReply:
    """The greedy reply at one strength, with what marks it as degenerate (shown, not hidden)."""

    strength: float
    text: str
    tokens: tuple[str, ...]
    top: tuple[TokenShift, ...]  # the next-token distribution after the prompt, top first
    entropy_bits: float  # of that first distribution
    mean_entropy_bits: float  # over the reply's steps
    repeated_share: float  # share of the reply's 3-grams that occurred before in it
    degenerate: str  # "" or why: "repeats itself", "near-uniform noise", "says nothing"
    projection: tuple[float, ...]  # each reply token's hidden state on the direction
    projection_layer: int


@dataclass(frozen=True)
class SteeringRun:
    prompt: str
    layers: tuple[int, int]  # inclusive, as llama.cpp's il_start/il_end
    replies: tuple[SteeredReply, ...]  # one per strength, in the order asked
    prompt_tokens: tuple[str, ...]
    prompt_projection: tuple[float, ...]  # the prompt's tokens on the direction (unsteered)
    projection_layer: int
    seconds: float


@dataclass(frozen=True)
class ControlVectorInfo:
    """A control vector applied to the engine's generation (chat, Compare, the server)."""

    path: str
    strength: float
    layers: tuple[int, int]
