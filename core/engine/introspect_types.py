"""Plain data that the introspection views return: what the Learn panels draw.

Kept apart from the computation (introspect.py, which needs numpy and llama.cpp) so the GUI
can import these types without paying for either at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TokenPiece:
    id: int
    text: str  # the piece as text; partial UTF-8 shows as U+FFFD here, see bytes_hex
    bytes_hex: str
    special: bool  # a control token such as <|im_start|>


@dataclass(frozen=True)
class Candidate:
    id: int
    piece: str
    prob: float
    logit: float


@dataclass(frozen=True)
class SamplerStage:
    name: str  # "raw", "penalties", "top-k", "top-p", "min-p", "temperature"
    kept: int  # candidates left after this stage
    top: list[Candidate]  # the most likely survivors, probabilities renormalised over `kept`


@dataclass(frozen=True)
class NextTokenView:
    prompt_tokens: int
    entropy_bits: float  # of the raw distribution (temperature 1, nothing removed)
    stages: list[SamplerStage]
    scaled: list[Candidate]  # the whole vocabulary at the chosen temperature, nothing removed

    @property
    def raw(self) -> list[Candidate]:
        return self.stages[0].top

    @property
    def final(self) -> list[Candidate]:
        return self.stages[-1].top


@dataclass(frozen=True)
class TokenSurprise:
    id: int
    piece: str
    logprob: float  # natural log of the model's probability for this token, given the ones before
    top: list[Candidate]  # what the model expected instead at this position


@dataclass(frozen=True)
class SurpriseView:
    tokens: list[TokenSurprise]
    perplexity: float
