"""What quantization changed: an original model and its quantized copy on the same text.

Both models read the same token ids in one llama.cpp evaluation each, with a capture context
(core.engine.capture) that keeps the logits at every position and the residual stream after
every layer. From those:
- perplexity of each model on the text (the tokens after the first);
- per-token KL divergence KL(original || quantized) of the next-token distributions, in nats;
- top-1 flips: positions where the two models' most likely next token differs;
- per-layer drift of the residual stream: 1 - cosine and relative L2 distance between the two
  models' hidden states, averaged over positions.

It runs in a child process (lab_child): llama.cpp loads user files there, and may abort.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import PromptError
from core.gguf.reader import read_header
from core.models.lab_child import CancelToken, LabJobError, Progress, run_in_child
from core.models.quant_lab_types import DEFAULT_TEXT, MAX_TOKENS, QuantComparison, summary_rows

__all__ = ["DEFAULT_TEXT", "MAX_TOKENS", "QuantComparison", "compare_models", "summary_rows"]

if TYPE_CHECKING:
    import numpy as np

def compare_models(original: str | Path, quantized: str | Path, text: str = DEFAULT_TEXT,
                   progress: Progress | None = None,
                   cancel: CancelToken | None = None) -> QuantComparison:
    """Read `text` with both models (in a child process) and measure what changed.

    Raises ModelLoadError for a file that is not a complete GGUF, PromptError for a text that
    is empty or too long, LabJobError when llama.cpp fails, Cancelled when `cancel` is set.
    """
    if not text.strip():
        raise PromptError("The comparison needs a text: type or paste a paragraph.")
    sizes = [read_header(p).actual_size for p in (original, quantized)]
    result: QuantComparison = run_in_child(
        "core.engine.quant_compare:_compare_in_child", (str(original), str(quantized), text),
        "comparing the two models", progress=progress, cancel=cancel)
    return QuantComparison(**{**result.__dict__, "original_size": sizes[0],
                              "quantized_size": sizes[1]})


# -- in the child process ----------------------------------------------------------------------
@dataclass
class Reading:
    ids: list[int]
    pieces: list[str]
    logprobs: np.ndarray  # float32 [position][vocab], log-softmax of the logits
    residual: dict[int, np.ndarray]  # layer -> float32 [position][n_embd]


def read_text(path: str, text: str, ids: list[int] | None,
              lora: tuple[str, float] | None = None) -> Reading:
    """Load the model (with a LoRA adapter at a scale, when given), tokenize (unless `ids`
    are given), capture logits and residuals. Also what the fine-tune lab's before-and-after
    view reads (core/finetune/effect.py)."""
    from core.engine.capture import TensorCapture
    from core.llama_log import open_llama

    adapter = {"lora_path": lora[0], "lora_scale": lora[1]} if lora else {}
    try:
        llm = open_llama(path, n_ctx=256, n_batch=256, n_gpu_layers=0, **adapter)
    except (ValueError, RuntimeError, OSError) as exc:
        what = f"{Path(path).name} with the adapter {Path(lora[0]).name}" if lora else \
            Path(path).name
        raise LabJobError(f"llama.cpp could not load {what}: {exc}") from exc
    capture = TensorCapture(llm)
    try:
        if lora:  # Llama applied it to its own context only
            capture.set_loras([(llm._lora_adapter, lora[1])])
        if ids is None:
            add_bos = bool(llm._model.add_bos_token())
            ids = list(llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=False))
        if len(ids) < 2:
            raise PromptError("The text needs at least two tokens to compare predictions.")
        if len(ids) > MAX_TOKENS:
            raise PromptError(f"The text has {len(ids):,} tokens; the lab compares up to "
                              f"{MAX_TOKENS}. Use a shorter text.")
        if max(ids) >= llm.n_vocab():
            raise LabJobError(f"{Path(path).name} has a smaller vocabulary than the original: "
                              "the two are not the same model.")
        captured = capture.run(ids, residual=True, all_logits=True)
        assert captured.logits is not None
        pieces = [bytes(llm.detokenize([t], special=True)).decode("utf-8", errors="replace")
                  for t in ids]
        return Reading(ids, pieces, log_softmax(captured.logits), captured.residual)
    finally:
        capture.close()
        llm.close()


def log_softmax(logits: np.ndarray) -> np.ndarray:
    import numpy as np

    x = logits.astype(np.float64)
    x -= x.max(axis=1, keepdims=True)
    x -= np.log(np.exp(x).sum(axis=1, keepdims=True))
    return x.astype(np.float32)


def perplexity(logprobs: np.ndarray, ids: list[int]) -> float:
    import numpy as np

    picked = logprobs[np.arange(len(ids) - 1), ids[1:]].astype(np.float64)
    return math.exp(-float(picked.mean()))


def kl(p_log: np.ndarray, q_log: np.ndarray) -> np.ndarray:
    """KL(p || q) per row, in nats, from log-probabilities (float64 sums)."""
    import numpy as np

    p_log64, q_log64 = p_log.astype(np.float64), q_log.astype(np.float64)
    out = (np.exp(p_log64) * (p_log64 - q_log64)).sum(axis=1)
    return np.maximum(out, 0.0)  # rounding can leave -1e-9 for identical rows


def drift(a: dict[int, np.ndarray], b: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    layers = sorted(set(a) & set(b))
    cosine, relative = [], []
    for layer in layers:
        x, y = a[layer].astype(np.float64), b[layer].astype(np.float64)
        rows = min(len(x), len(y))
        x, y = x[:rows], y[:rows]
        nx, ny = np.linalg.norm(x, axis=1), np.linalg.norm(y, axis=1)
        tiny = np.finfo(np.float64).tiny
        cos = (x * y).sum(axis=1) / np.maximum(nx * ny, tiny)
        cosine.append(float(np.mean(1.0 - np.clip(cos, -1.0, 1.0))))
        relative.append(float(np.mean(np.linalg.norm(x - y, axis=1) / np.maximum(nx, tiny))))
    return np.asarray(cosine), np.asarray(relative)


def _compare_in_child(original: str, quantized: str, text: str,
                      progress: Progress) -> QuantComparison:
    import numpy as np

    progress(0, 3, "reading the text with the original model")
    a = read_text(original, text, None)
    progress(1, 3, "reading the text with the quantized model")
    b = read_text(quantized, text, a.ids)
    progress(2, 3, "measuring the differences")
    n = len(a.ids) - 1
    pa, pb = a.logprobs[:n], b.logprobs[:n]
    top_a, top_b = pa.argmax(axis=1), pb.argmax(axis=1)
    cosine, relative = drift(a.residual, b.residual)

    top_ids = sorted(set(top_a.tolist()) | set(top_b.tolist()))
    names = token_texts(original, top_ids)
    result = QuantComparison(
        original=original, quantized=quantized, original_size=0, quantized_size=0,
        pieces=a.pieces, ids=a.ids,
        perplexity_original=perplexity(a.logprobs, a.ids),
        perplexity_quantized=perplexity(b.logprobs, a.ids),
        kl=kl(pa, pb), flips=np.asarray(top_a != top_b),
        top_original=[names[int(t)] for t in top_a],
        top_quantized=[names[int(t)] for t in top_b],
        drift_cosine=cosine, drift_relative_l2=relative)
    progress(3, 3, "done")
    return result


def token_texts(path: str, ids: list[int]) -> dict[int, str]:
    """Token id -> text, read with the model's tokenizer alone (a fraction of a second)."""
    from core.llama_log import open_llama

    vocab = open_llama(path, vocab_only=True)
    try:
        return {t: bytes(vocab.detokenize([t], special=True)).decode("utf-8", errors="replace")
                for t in ids}
    finally:
        vocab.close()
