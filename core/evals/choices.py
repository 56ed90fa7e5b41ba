"""Multiple choice by log-likelihood, as lm-evaluation-harness scores it.

No reply is generated: each choice is read as the continuation of the prompt and the model's
summed log-probability of its tokens is the score; the highest wins (`choice_acc`). The
harness's `acc_norm` divides each sum by the choice's length in characters, so a long choice
is not beaten merely for having more tokens to pay for (`choice_acc_norm`). The prompt is the
item through the chat template (the reply position), so an instruct model is asked as it is
chatted with; the numbers equal Surprise's `surprise(choice, context=messages)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.engine.types import ChatMessage
from core.errors import NeedsLocalModel


@dataclass(frozen=True)
class ChoiceResult:
    logprobs: tuple[float, ...]  # summed log-probability of every choice
    token_counts: tuple[int, ...]
    picked: int  # by the raw sum
    picked_norm: int  # by the sum per character
    seconds: float
    reused_prompt: bool

    def to_json(self) -> dict[str, Any]:
        return {"logprobs": list(self.logprobs), "token_counts": list(self.token_counts),
                "picked": self.picked, "picked_norm": self.picked_norm}


def _argmax(values: Sequence[float]) -> int:
    return max(range(len(values)), key=lambda i: values[i])


def score_choices(engine: Any, messages: Sequence[ChatMessage], choices: Sequence[str],
                  reuse_prefix: bool = True) -> ChoiceResult:
    """Score each choice as the reply to `messages` on a local engine (EngineClient), or, on
    an engine that cannot score given continuations (a remote one), through its `surprise` per
    choice. Raises what the engine raises (NeedsLocalModel when a server cannot give
    log-probs)."""
    try:
        result = engine.score_continuations(list(choices), context=list(messages),
                                            reuse_prefix=reuse_prefix)
    except NeedsLocalModel:
        result = None
    if result is not None:
        totals = [c.total for c in result.choices]
        counts = [c.n_tokens for c in result.choices]
        seconds, reused = result.seconds, result.reused_prompt
    else:
        views = [engine.surprise(choice, context=list(messages)) for choice in choices]
        totals = [sum(t.logprob for t in v.tokens) for v in views]
        counts = [len(v.tokens) for v in views]
        seconds, reused = 0.0, False
    per_char = [t / max(len(c), 1) for t, c in zip(totals, choices, strict=True)]
    return ChoiceResult(tuple(totals), tuple(counts), _argmax(totals), _argmax(per_char),
                        seconds, reused)
