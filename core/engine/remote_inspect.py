"""What the Learn panels can get from a remote server: token log-probabilities and, where the
server has a tokenize endpoint, its tokens. Everything else needs the model's insides.

A server returns only the `top` alternatives it was asked for (OpenAI caps them at 20, some
servers at 5), never the whole vocabulary, and no token ids: the views say how many came.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from core.engine.introspect_types import (
    Candidate,
    NextTokenView,
    SamplerStage,
    SurpriseView,
    TokenPiece,
    TokenSurprise,
)

UNKNOWN_ID = -1  # servers name tokens by their text; the id stays unknown


@dataclass(frozen=True)
class RemoteNextTokenView(NextTokenView):
    """A next-token view built from the server's top log-probabilities: `alternatives` is how
    many it returned (of `asked`); the rest of the vocabulary is unseen."""

    alternatives: int = 0
    asked: int = 0


def _candidates(top: dict[str, float] | None) -> list[Candidate]:
    pairs = sorted((top or {}).items(), key=lambda kv: kv[1], reverse=True)
    return [Candidate(UNKNOWN_ID, piece, math.exp(lp), lp) for piece, lp in pairs]


def next_token_view(logprobs: Any, prompt_tokens: int, asked: int) -> RemoteNextTokenView | None:
    """The view from a /v1/completions answer's `logprobs` (legacy shape: top_logprobs is a list
    of {token: logprob}); None when the server sent none."""
    tops = _field(logprobs, "top_logprobs")
    if not tops or not tops[0]:
        return None
    found = _candidates(tops[0])
    total = sum(c.prob for c in found)
    # Entropy of what was shown, renormalised: a lower bound on the full distribution's.
    entropy = -sum((c.prob / total) * math.log2(c.prob / total) for c in found if c.prob > 0)
    stage = SamplerStage("raw", len(found), found)
    return RemoteNextTokenView(prompt_tokens, entropy, [stage], found, len(found), asked)


def surprise_view(logprobs: Any, text: str) -> SurpriseView | None:
    """Per-token scores of `text` from an echo+logprobs answer. The one generated token that
    servers add (max_tokens cannot be 0 everywhere) is left out by its offset."""
    tokens = _field(logprobs, "tokens") or []
    scores = _field(logprobs, "token_logprobs") or []
    tops = _field(logprobs, "top_logprobs") or [None] * len(tokens)
    offsets = _field(logprobs, "text_offset")
    out: list[TokenSurprise] = []
    for i, (piece, score) in enumerate(zip(tokens, scores, strict=False)):
        if offsets is not None and i < len(offsets) and offsets[i] >= len(text):
            break  # the generated token, not part of the text scored
        if score is None:
            continue  # the first token: nothing came before to predict it
        top = tops[i] if i < len(tops) else None
        out.append(TokenSurprise(UNKNOWN_ID, str(piece), float(score), _candidates(top)))
    if not out:
        return None
    mean = sum(t.logprob for t in out) / len(out)
    return SurpriseView(out, math.exp(-mean))


def token_pieces(ids: list[int], texts: list[str]) -> list[TokenPiece]:
    return [TokenPiece(i, t, t.encode("utf-8").hex(), False) for i, t in zip(ids, texts,
                                                                             strict=True)]


def _field(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)
