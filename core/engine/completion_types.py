"""Plain data for completions as API clients ask for them: stop strings, penalties,
log-probabilities, a grammar that constrains the output, and the prompt's own scores (echo).

The chat window's replies (`GenerateRequest`) need none of this; the API server does, and it
crosses the same process boundary, so it is plain frozen data too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from core.engine.types import ChatMessage, SamplingSettings

CompletionFinish = Literal["stop", "length", "cancelled"]
MAX_TOP_LOGPROBS = 20  # OpenAI's limit; the server refuses more


@dataclass(frozen=True)
class TopLogprob:
    token: str
    bytes: tuple[int, ...]
    logprob: float


@dataclass(frozen=True)
class TokenLogprob:
    """One token of the output (or of an echoed prompt) with the model's log-probability for it
    and, when asked, the most likely alternatives at that position."""

    token: str
    bytes: tuple[int, ...]
    logprob: float | None  # None for a prompt's first token: nothing came before to predict it
    top: tuple[TopLogprob, ...] = ()


@dataclass(frozen=True)
class CompletionRequest:
    """A raw `prompt` read as written, or `messages` through the model's chat template."""

    prompt: str = ""
    messages: tuple[ChatMessage, ...] = ()
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    stop: tuple[str, ...] = ()
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logprobs: int | None = None  # alternatives per token (0 to 20); None: no log-probabilities
    grammar: str | None = None  # GBNF the output must match (see core.engine.grammar)
    echo: bool = False  # score the prompt's tokens too (a raw prompt only)


@dataclass(frozen=True)
class CompletionPiece:
    """Text ready to show, with the tokens it came from when log-probabilities were asked."""

    text: str
    logprobs: tuple[TokenLogprob, ...] = ()


@dataclass(frozen=True)
class CompletionDone:
    text: str
    finish_reason: CompletionFinish
    prompt_tokens: int
    completion_tokens: int
    prompt: str  # the exact text the model read (after the chat template): for inspection
    ttft_s: float
    total_s: float
    echo: tuple[TokenLogprob, ...] = ()  # the prompt's tokens, the first one unscored
    dropped_messages: int = 0


CompletionEvent = CompletionPiece | CompletionDone
