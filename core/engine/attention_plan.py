"""How much attention one capture may hold, and what to leave out of a long text to stay within.

The Learn tab's Attention panel and `glassbox inspect attention` both plan here, so a text that
the panel shows with its heads averaged comes out the same way on the command line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.engine.introspect_types import TokenPiece

# Attention values one capture may hold (float32: 64 MB). SmolLM2's 30 x 9 heads fit it up to
# about 240 tokens; longer texts keep the reply's rows, then average heads, then thin layers.
CELL_BUDGET = 16_000_000
TEMPLATE_TOKENS = 6  # what a chat template adds around one message, about
# Until the model's shape is known, plan for a big one.
GUESS_LAYERS = GUESS_HEADS = 32


@dataclass(frozen=True)
class AttentionPlan:
    """What to capture so that it fits CELL_BUDGET."""

    reply_only: bool = False
    mean_heads: bool = False
    layers: list[int] | None = None  # None: every layer

    def kwargs(self) -> dict[str, Any]:
        """The options of `EngineClient.attention` this plan stands for."""
        return {"reply_only": self.reply_only, "mean_heads": self.mean_heads,
                "layers": self.layers}


def plan_attention(n_tokens: int, n_reply: int, n_layer: int, n_head: int,
                   budget: int = CELL_BUDGET) -> AttentionPlan:
    """Give up detail in the order a learner misses it least: the prompt's own rows (when a
    reply is there to look at), then separate heads, then layers (evenly spaced, last kept)."""
    queries, reply_only = n_tokens, False
    if n_reply and n_layer * n_head * n_tokens * n_tokens > budget:
        queries, reply_only = min(n_reply, n_tokens), True
    heads, mean = n_head, False
    if n_layer * heads * queries * n_tokens > budget:
        heads, mean = 1, True
    per_layer = heads * queries * n_tokens
    layers = None
    if n_layer * per_layer > budget:
        keep = max(1, budget // max(1, per_layer))
        layers = sorted({round(i * (n_layer - 1) / max(1, keep - 1)) for i in range(keep)}
                        if keep > 1 else {n_layer - 1})
    return AttentionPlan(reply_only, mean, layers)


def reply_offset(pieces: Sequence[TokenPiece], chars: int) -> int:
    """How many of `pieces` lie after the first `chars` characters."""
    pos = 0
    for i, piece in enumerate(pieces):
        if pos >= chars:
            return len(pieces) - i
        pos += len(piece.text)
    return 0


@dataclass(frozen=True)
class SizedPlan:
    """A plan with the sizes it was made for (to say what is captured)."""

    plan: AttentionPlan
    n_tokens: int  # about: a conversation's template tokens are estimated
    n_layer: int  # layers to choose from (the requested ones, else the model's)
    n_head: int


def plan_for_text(pieces: Sequence[TokenPiece], n_layer: int | None, n_head: int | None, *,
                  n_context: int = 0, prefix_chars: int = 0,
                  layers: Sequence[int] | None = None,
                  budget: int = CELL_BUDGET) -> SizedPlan:
    """Plan the capture of a text counted as `pieces`.

    With a conversation (`n_context` messages whose text is the first `prefix_chars` characters
    of the pieces), the reply's rows are what may be kept alone. `layers` narrows the choice to
    those layers, and the plan's layers are then taken from them. Unknown shapes (None) plan
    for a big model.
    """
    n_layer = len(layers) if layers else (n_layer or GUESS_LAYERS)
    n_head = n_head or GUESS_HEADS
    n_tokens = len(pieces) + TEMPLATE_TOKENS * (n_context + 1) if n_context else len(pieces)
    n_reply = reply_offset(pieces, prefix_chars) if n_context else 0
    plan = plan_attention(n_tokens, n_reply, n_layer, n_head, budget)
    if layers:
        chosen = list(layers)
        picked = [chosen[i] for i in plan.layers] if plan.layers is not None else chosen
        plan = AttentionPlan(plan.reply_only, plan.mean_heads, picked)
    return SizedPlan(plan, n_tokens, n_layer, n_head)
