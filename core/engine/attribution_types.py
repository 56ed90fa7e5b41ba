"""Plain data for occlusion attribution: what to explain, the cost before it starts, progress,
and which parts of the prompt made the model say what it said.

Apart from the computation (attribution.py) so the window, the CLI and the protocol can import
it without numpy or llama.cpp.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from core.engine.types import ChatMessage

Granularity = Literal["token", "word", "sentence", "passage"]
GRANULARITIES: tuple[Granularity, ...] = ("token", "word", "sentence", "passage")


@dataclass(frozen=True)
class LabeledSpan:
    """A character span of the prompt to attribute as one unit (a retrieved passage)."""

    start: int
    end: int
    label: str = ""


@dataclass(frozen=True)
class AttributionRequest:
    """What to explain. The prompt is `messages` through the model's chat template (with the
    generation prompt) or, without messages, the raw text `prompt` (already rendered, special
    tokens read as such). What it explains is `reply` (text read right after the prompt) or,
    when `next_token` is set, that one token id."""

    prompt: str = ""
    messages: tuple[ChatMessage, ...] = ()
    reply: str = ""
    next_token: int | None = None
    by: Granularity = "word"
    spans: tuple[LabeledSpan, ...] = ()  # the units for by="passage", in prompt characters
    reuse_prefix: bool = True  # False: every occluded prompt evaluated from scratch (bench)


@dataclass(frozen=True)
class AttributionEstimate:
    """The cost of an attribution, known before it starts."""

    prompt_tokens: int
    reply_tokens: int
    units: int  # all units (they cover the prompt)
    scored_units: int  # the ones that will be removed in turn (special tokens are kept)
    decode_tokens: int  # tokens to decode in all, the baseline included, with KV reuse
    decode_tokens_without_reuse: int  # the same with every occluded prompt read from scratch
    tokens_per_s: float  # measured on this prompt's own baseline decode
    seconds: float  # decode_tokens / tokens_per_s

    def describe(self) -> str:
        return (f"{self.scored_units:,} units to remove in turn: {self.decode_tokens:,} tokens "
                f"to decode (at {self.tokens_per_s:,.0f} tokens/s, about "
                f"{format_seconds(self.seconds)}; without reusing the prefix "
                f"{self.decode_tokens_without_reuse:,} tokens)")


def format_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass(frozen=True)
class AttributionProgress:
    done: int  # units scored so far
    total: int
    decoded_tokens: int
    seconds: float


@dataclass(frozen=True)
class AttributionUnit:
    """One part of the prompt: prompt_text[start:end], tokens [token_start, token_end).

    `score` is the reply's log-probability with the whole prompt minus with this unit cut out:
    positive when the unit made the reply more likely. None for a unit that is not removed
    (a special token of the template) or not reached before a cancel."""

    index: int
    text: str
    start: int
    end: int
    token_start: int
    token_end: int
    scored: bool
    score: float | None = None
    token_scores: tuple[float, ...] = ()  # the drop of each reply token's log-probability
    sentence_scores: tuple[float, ...] = ()  # summed over each reply sentence's tokens
    label: str = ""  # a passage's label


@dataclass(frozen=True)
class ReplySentence:
    start: int  # in reply_text
    end: int
    token_start: int  # reply tokens [token_start, token_end)
    token_end: int


@dataclass(frozen=True)
class AttributionResult:
    by: Granularity
    prompt_text: str  # what the model reads; the units' texts concatenate back to it
    prompt_ids: tuple[int, ...]
    reply_ids: tuple[int, ...]
    reply_text: str
    reply_pieces: tuple[str, ...]
    baseline_logprobs: tuple[float, ...]  # each reply token's, given the whole prompt
    units: tuple[AttributionUnit, ...]
    sentences: tuple[ReplySentence, ...]
    estimate: AttributionEstimate
    decoded_tokens: int
    seconds: float
    reused_prefix: bool
    cancelled: bool = False
    done: int = 0  # units scored (all scored units unless cancelled)
    unscored: tuple[int, ...] = field(default=())  # indices of scored units not reached

    @property
    def baseline(self) -> float:
        """The reply's total log-probability with the whole prompt."""
        return float(sum(self.baseline_logprobs))

    def ranked(self) -> list[AttributionUnit]:
        """Scored units, strongest (largest drop when removed) first."""
        return sorted((u for u in self.units if u.score is not None),
                      key=lambda u: u.score or 0.0, reverse=True)

    def sentence_ranked(self, sentence: int) -> list[AttributionUnit]:
        """Scored units by their effect on one reply sentence, strongest first."""
        return sorted((u for u in self.units if u.sentence_scores),
                      key=lambda u: u.sentence_scores[sentence], reverse=True)


AttributionEvent = AttributionProgress | AttributionResult
