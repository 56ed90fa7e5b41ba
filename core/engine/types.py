"""Plain data that crosses the engine boundary (and the process boundary): no behaviour here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "cancelled"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class SamplingSettings:
    temperature: float = 0.7
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    seed: int = -1  # -1: a new random seed for every reply
    max_tokens: int = 512


@dataclass(frozen=True)
class ModelInfo:
    path: str
    name: str
    architecture: str
    n_ctx: int
    n_ctx_train: int
    n_params: int
    size_bytes: int
    has_chat_template: bool
    load_s: float


@dataclass(frozen=True)
class GenerationStats:
    prompt_tokens: int
    completion_tokens: int
    ttft_s: float
    tokens_per_s: float
    total_s: float
    n_ctx: int
    dropped_messages: int = 0  # oldest turns left out so the prompt fits the context

    @property
    def context_used(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class TokenEvent:
    """One decoded piece of the reply (may hold several tokens or none of a split character)."""

    text: str


@dataclass(frozen=True)
class DoneEvent:
    text: str
    finish_reason: FinishReason
    stats: GenerationStats


GenerationEvent = TokenEvent | DoneEvent


@dataclass(frozen=True)
class GenerateRequest:
    messages: list[ChatMessage]
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
