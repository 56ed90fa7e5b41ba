"""What an adapter changed: the base model and the base model with its LoRA adapter reading
the same text, token by token and layer by layer (the fine-tune lab's "see what changed").

Both readings go through llama.cpp, as the chat will run the adapter, in one child process
(core.models.lab_child: llama.cpp loads user files there and may abort). From them:
- each next token's surprise (bits) without and with the adapter, and the perplexities;
- KL(base || adapter) of the next-token distributions at each position;
- the five most likely next tokens at each position under both, for a Next-token view at a
  chosen position;
- residual drift per layer (1 - cosine, relative L2): where in the network the hidden states
  moved, as the quantization lab shows it for a quantized copy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import PromptError
from core.models.lab_child import CancelToken, Progress, run_in_child

if TYPE_CHECKING:
    import numpy as np

TOP = 5  # alternatives kept per position for both models
_LN2 = math.log(2.0)


@dataclass(frozen=True)
class AdapterEffect:
    """Arrays over positions are indexed by the token they predict: entry i is about token
    i + 1 (the first token has no prediction)."""

    base: str
    adapter: str
    scale: float
    pieces: list[str]
    ids: list[int]
    surprise_base: np.ndarray  # bits, float64 [n - 1]
    surprise_adapter: np.ndarray
    kl: np.ndarray  # nats
    top_base: list[list[tuple[str, float]]]  # per position: (token text, probability)
    top_adapter: list[list[tuple[str, float]]]
    perplexity_base: float
    perplexity_adapter: float
    drift_cosine: np.ndarray  # per layer
    drift_relative_l2: np.ndarray

    @property
    def surprise_change(self) -> np.ndarray:
        """Bits the adapter took away (positive: it expected the token more)."""
        return self.surprise_base - self.surprise_adapter

    def most_moved_layers(self, count: int = 3) -> list[int]:
        """The layers whose residual stream moved most (by relative L2), deepest first on a
        tie."""
        order = sorted(range(len(self.drift_relative_l2)),
                       key=lambda i: (-float(self.drift_relative_l2[i]), -i))
        return order[:count]


def adapter_effect(base: str | Path, adapter: str | Path, text: str, scale: float = 1.0,
                   progress: Progress | None = None,
                   cancel: CancelToken | None = None) -> AdapterEffect:
    """Read `text` with the base model alone and with `adapter` at `scale` (a child process).

    Raises PromptError for an empty or too long text, LabJobError when llama.cpp refuses the
    model or the adapter (one made for another base, say), Cancelled when `cancel` is set.
    """
    if not text.strip():
        raise PromptError("Give a text to read with and without the adapter.")
    if not 0.0 <= scale <= 2.0:
        raise PromptError(f"An adapter's scale is between 0 and 2 (got {scale:g}).")
    return run_in_child(  # type: ignore[no-any-return]
        "core.finetune.effect:_effect_in_child", (str(base), str(adapter), text, scale),
        "reading the text with and without the adapter", progress=progress, cancel=cancel)


# -- in the child process ----------------------------------------------------------------------
def _top(logprobs: np.ndarray, names: dict[int, str]) -> list[list[tuple[str, float]]]:
    import numpy as np

    best = np.argsort(-logprobs, axis=1)[:, :TOP]
    return [[(names[int(t)], float(np.exp(row[t]))) for t in ids]
            for row, ids in zip(logprobs, best, strict=True)]


def _effect_in_child(base: str, adapter: str, text: str, scale: float,
                     progress: Progress) -> AdapterEffect:
    import numpy as np

    from core.engine.quant_compare import drift, kl, perplexity, read_text, token_texts

    progress(0, 3, "reading the text with the base model")
    a = read_text(base, text, None)
    progress(1, 3, "reading the text with the adapter")
    b = read_text(base, text, a.ids, lora=(adapter, scale))
    progress(2, 3, "measuring the differences")
    n = len(a.ids) - 1
    pa, pb = a.logprobs[:n], b.logprobs[:n]
    rows = np.arange(n)
    following = np.asarray(a.ids[1:])
    surprise_a = -pa[rows, following].astype(np.float64) / _LN2
    surprise_b = -pb[rows, following].astype(np.float64) / _LN2
    best = np.concatenate([np.argsort(-pa, axis=1)[:, :TOP], np.argsort(-pb, axis=1)[:, :TOP]])
    names = token_texts(base, sorted(set(best.ravel().tolist())))
    cosine, relative = drift(a.residual, b.residual)
    effect = AdapterEffect(
        base=base, adapter=adapter, scale=scale, pieces=a.pieces, ids=a.ids,
        surprise_base=surprise_a, surprise_adapter=surprise_b, kl=kl(pa, pb),
        top_base=_top(pa, names), top_adapter=_top(pb, names),
        perplexity_base=perplexity(a.logprobs, a.ids),
        perplexity_adapter=perplexity(b.logprobs, a.ids),
        drift_cosine=cosine, drift_relative_l2=relative)
    progress(3, 3, "done")
    return effect
