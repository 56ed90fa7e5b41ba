"""How much of a grounded reply's attention went to each passage it was given.

Read from an attention capture of the reply in its conversation (the Learn tab's Attention
panel shows these shares beside the head grid).
"""

from __future__ import annotations

from core.engine.capture_types import AttentionView
from core.rag.grounding import Grounding, passage_block


def passage_spans(view: AttentionView, grounding: Grounding) -> list[tuple[str, tuple[int, int]]]:
    """Each passage's label and token range in the captured text ((0, 0) if not found)."""
    text, found, start = view.text, [], 0
    for source in grounding.sources:
        block = passage_block(source)
        at = text.find(block, start)
        if at < 0:  # a character split across tokens shows as U+FFFD: try the bare text
            block = source.text.strip()
            at = text.find(block, start)
        span = view.token_range(at, at + len(block)) if at >= 0 else (0, 0)
        start = at + len(block) if at >= 0 else start
        found.append((f"[{source.number}] {source.label}", span))
    return found


def passage_shares(view: AttentionView, grounding: Grounding) -> list[tuple[str, float]]:
    """Share of the reply's attention on each passage, averaged over layers one at a time (the
    same mean as all at once, without a float64 copy of the whole capture)."""
    spans = passage_spans(view, grounding)
    per_layer = [view.span_attention([s for _, s in spans], layers=[layer])
                 for layer in view.layers]
    return [(name, sum(shares[i] for shares in per_layer) / len(per_layer))
            for i, (name, _) in enumerate(spans)]
