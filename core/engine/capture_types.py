"""Plain data the model-internals views return: attention and the logit lens (a file's
anatomy is in core.gguf.anatomy_types).

No numpy import at module level, so the GUI can import these types at start-up for free; the
arrays inside come from numpy, which is loaded by the time one exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.engine.introspect_types import Candidate, TokenPiece

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class AttentionView:
    """Attention probabilities of the model over a text, every captured layer and head.

    `attention[l, h, q, k]` is how much query token `query_start + q` attended to key token
    `k` in layer `layers[l]`, head `h` (rows sum to 1 over keys 0..query; later keys are 0,
    the causal mask). Only real tokens: the KV cache padding is cut off. With grouped-query
    attention there is still one matrix per query head.
    """

    tokens: list[TokenPiece]
    attention: np.ndarray  # float32 [layer][head][query][key]
    layers: list[int]  # the model layer each entry of the first axis is
    n_head_kv: int  # key/value heads: query heads h and h' share keys if h//g == h'//g
    reply_start: int = 0  # first token of the scored reply (0 when the text stands alone)
    query_start: int = 0  # first token the query axis holds (reply_start for reply_only)
    heads_averaged: bool = False  # the head axis holds one entry: the mean over heads

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Views cross the engine pipe by pickling: float16 halves the bytes (30 layers x 9
        # heads x 128 x 128 is 17 MB as float32) and costs at most 2.5e-4 absolute on values
        # in [0, 1]; the receiving side gets float32 back.
        return (_rebuild_attention, (self.tokens, self.attention.astype("float16"), self.layers,
                                     self.n_head_kv, self.reply_start, self.query_start,
                                     self.heads_averaged))

    @property
    def text(self) -> str:
        """The tokens' pieces joined: what character offsets in `token_range` refer to."""
        return "".join(t.text for t in self.tokens)

    def head_mean(self) -> np.ndarray:
        """Mean over heads: float32 [layer][query][key]."""
        return self.attention.mean(axis=1)

    def token_range(self, char_start: int, char_end: int) -> tuple[int, int]:
        """Tokens [first, stop) overlapping characters [char_start, char_end) of `text`."""
        first, stop, pos = len(self.tokens), 0, 0
        for i, token in enumerate(self.tokens):
            end = pos + len(token.text)
            if end > char_start and pos < char_end:
                first, stop = min(first, i), i + 1
            pos = end
        return (first, stop) if stop else (0, 0)

    def span_attention(self, spans: Sequence[tuple[int, int]],
                       queries: tuple[int, int] | None = None,
                       layers: Sequence[int] | None = None) -> list[float]:
        """How much attention each token span received: for the grounded-answer view.

        `spans` are token ranges [first, stop) (passages); `queries` the token range whose
        attention is counted (default: the reply, `reply_start` to the end). The result per
        span is the attention mass onto its keys, summed over the span, averaged over query
        tokens, heads and the chosen model `layers` (default: all captured). Each query's
        row sums to 1, so the figures are shares of attention (the rest went elsewhere).
        """
        import numpy as np

        lo, hi = queries if queries is not None else (self.reply_start, len(self.tokens))
        lo, hi = max(lo, self.query_start), min(hi, self.query_start + self.attention.shape[2])
        if hi <= lo:
            return [0.0 for _ in spans]
        picked = ([self.layers.index(layer) for layer in layers] if layers is not None
                  else list(range(len(self.layers))))
        rows = self.attention[picked][:, :, lo - self.query_start: hi - self.query_start]
        # Per query: mass per key averaged over layers and heads, float64 for the sums.
        per_key = rows.astype(np.float64).mean(axis=(0, 1))  # [query][key]
        return [float(per_key[:, a:b].sum(axis=1).mean()) if b > a else 0.0 for a, b in spans]


def _rebuild_attention(tokens: list[TokenPiece], attention: np.ndarray, *rest: Any) \
        -> AttentionView:
    return AttentionView(tokens, attention.astype("float32"), *rest)


@dataclass(frozen=True)
class LensCell:
    """What the residual stream at one layer and position would predict, read through the
    model's final norm and output matrix."""

    id: int
    piece: str
    prob: float
    top: list[Candidate] = field(default_factory=list)  # the k most likely, first = this one


@dataclass(frozen=True)
class LensView:
    tokens: list[TokenPiece]
    layers: list[int]
    cells: list[list[LensCell]]  # [layer][position]: the prediction for the NEXT token
    actual: list[LensCell]  # per position: the model's real next-token prediction (its logits)
    reply_start: int = 0
    # Share of positions where the last layer's lens and the real logits pick the same token:
    # 1.0 when the lens reads this architecture's final norm and output as llama.cpp does.
    final_agreement: float = 1.0
