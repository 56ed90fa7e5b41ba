"""The logit lens: what each layer's residual stream would predict if the model stopped there.

Each captured residual (`l_out-L`) goes through the model's own final norm and output matrix.
Why numpy on dequantized weights, not llama.cpp: llama.cpp computes the final norm and output
only on the last layer's stream (its `result_norm`/`result_output` nodes), and there is no way
to feed it an earlier layer's stream without building a graph of our own. The weights come
from the GGUF file (memory-mapped, dequantized once per model with `gguf.quants`), so they are
exactly the model's. llama.cpp quantizes activations to 8 bits inside its own matmuls, so the
last layer's lens is close to, not bit-equal with, the real logits; `LensView.final_agreement`
reports how often their top tokens agree (1.0 on the bundled model in the tests).

Runs in the engine child (numpy, gguf).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import GlassboxError
from core.gguf.tensors import dequantize_tensor, read_tensor_table

# Rows per output matmul: 256 x vocab floats (50 MB at 49k) at a time. Larger blocks read the
# output matrix fewer times, which is what bounds the speed (memory, not arithmetic).
_ROWS_PER_CHUNK = 256


@dataclass(frozen=True)
class LensRows:
    """Top-k of the lens for a block of positions: ids, probabilities and logits [pos][k]."""

    ids: np.ndarray
    probs: np.ndarray
    logits: np.ndarray


class LogitLens:
    """The final norm and output matrix of one GGUF model, ready to read residual streams."""

    def __init__(self, path: str | Path) -> None:
        table = read_tensor_table(path)
        meta = table.metadata
        arch = str(meta.get("general.architecture", ""))
        if "output_norm.weight" not in table.tensors:
            raise GlassboxError(f"{Path(path).name} has no final norm (output_norm.weight): "
                                "the logit lens does not know how to read this architecture.")
        self.norm_weight = dequantize_tensor(table, "output_norm.weight").reshape(-1)
        self.norm_bias = (dequantize_tensor(table, "output_norm.bias").reshape(-1)
                          if "output_norm.bias" in table.tensors else None)
        # LayerNorm models (a bias on the final norm) store their eps under another key.
        eps_key = "attention.layer_norm_epsilon" if self.norm_bias is not None \
            else "attention.layer_norm_rms_epsilon"
        self.eps = float(meta.get(f"{arch}.{eps_key}", 1e-5))
        # Tied embeddings: without output.weight, llama.cpp multiplies by token_embd.weight.
        name = "output.weight" if "output.weight" in table.tensors else "token_embd.weight"
        self.output = dequantize_tensor(table, name)  # [vocab][n_embd], float32
        self.output_bias = (dequantize_tensor(table, "output.bias").reshape(-1)
                            if "output.bias" in table.tensors else None)
        cap = meta.get(f"{arch}.final_logit_softcapping")
        self.softcap = float(cap) if isinstance(cap, (int, float)) and cap else None

    def logits(self, stream: np.ndarray) -> np.ndarray:
        """Logits [pos][vocab] for residual rows [pos][n_embd]."""
        x = stream.astype(np.float32, copy=False)
        if self.norm_bias is None:
            scale = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps)
            normed = x * scale * self.norm_weight
        else:
            centred = x - x.mean(axis=-1, keepdims=True)
            scale = 1.0 / np.sqrt(np.mean(centred * centred, axis=-1, keepdims=True) + self.eps)
            normed = centred * scale * self.norm_weight + self.norm_bias
        out = normed @ self.output.T
        if self.output_bias is not None:
            out += self.output_bias
        if self.softcap:
            out = self.softcap * np.tanh(out / self.softcap)
        return out

    def top(self, stream: np.ndarray, k: int) -> LensRows:
        """The k most likely next tokens per position, most likely first, with softmax probs."""
        blocks = [_top_block(self.logits(stream[start: start + _ROWS_PER_CHUNK]), k)
                  for start in range(0, len(stream), _ROWS_PER_CHUNK)]
        return _join(blocks)


def top_of_logits(logits: np.ndarray, k: int) -> LensRows:
    """The same top-k read of the model's real logits [pos][vocab], for comparison."""
    return _join([_top_block(logits[start: start + _ROWS_PER_CHUNK], k)
                  for start in range(0, len(logits), _ROWS_PER_CHUNK)])


def _top_block(block: np.ndarray, k: int) -> LensRows:
    k = max(1, min(k, block.shape[1]))
    best = np.argpartition(-block, k - 1, axis=1)[:, :k]  # unordered top k: no full sort
    best_logits = np.take_along_axis(block, best, axis=1)
    order = np.argsort(-best_logits, axis=1, kind="stable")
    best = np.take_along_axis(best, order, axis=1)
    best_logits = np.take_along_axis(best_logits, order, axis=1)
    peak = block.max(axis=1, keepdims=True).astype(np.float64)
    total = np.exp(block - peak).sum(axis=1, keepdims=True)
    return LensRows(best, np.exp(best_logits - peak) / total, best_logits)


def _join(blocks: list[LensRows]) -> LensRows:
    return LensRows(np.concatenate([b.ids for b in blocks]),
                    np.concatenate([b.probs for b in blocks]),
                    np.concatenate([b.logits for b in blocks]))
