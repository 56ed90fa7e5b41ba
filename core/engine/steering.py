"""Steering: a direction per layer from contrastive pairs, applied as a llama.cpp control vector.

Runs in the engine child next to the model. The choices, and why:

- **What is read.** Each text of a pair is read *raw* (no chat template), so the direction is
  about the text's own quality (formal, French, glad) and not about template scaffolding both
  sides share. Its residual streams (`l_out-L`, the stream after layer L, where llama.cpp adds
  a control vector) are captured on a capture context (core.engine.capture).
- **Pooling.** The mean over the text's tokens, the first position left out (BOS or not, the
  first token is the model's attention sink: its stream is thousands long in SmolLM2's middle
  layers, against about 150 elsewhere, and would drown every difference), not the last
  token: a style or a language is spread over the whole text, while the last token of both
  sides is often the same "." and carries little of it. Each text gives one vector whatever
  its length, so pairs of very different lengths still weigh the same. `pooling="last"` is
  there for prompts built to end on the decisive token.
- **Direction.** Per layer, the mean of the pair differences (positive - negative), made unit
  length; or (`method="pca"`) the first principal component of the differences, as
  cvector-generator offers, *uncentred* (centring would remove the shared shift, which is the
  signal), its sign turned to agree with the mean difference.
- **Separation.** Leave-one-pair-out accuracy (does the held-out pair's positive text project
  above its negative one, on the direction from the other pairs?) and Cohen's d of the
  projections. One pair builds a direction but has no score: nothing is left to test on.
- **Strength.** Strength 1 adds, at each of the k layers of the range, the unit direction
  times the length of that layer's mean difference divided by sqrt(k). Measured on SmolLM2-135M
  (positive/negative pairs, layers 10-20): dividing by k left strength 2 barely changing the
  reply; a full difference per layer wrecked it at 1 (the stream carries what earlier layers
  added); with sqrt(k), strength 1 turns the tone of the reply and 2 is the edge of coherent
  text, so the slider's -2..2 spans "off" to "about to break" whatever the range's width.
- **Clearing.** The control vector goes on the chat context only for the run and is switched
  off (or back to the one chat uses) in a `finally`, with the KV cache dropped both ways: a
  prefix evaluated under steering must never be re-used by a plain reply.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from core.engine import control_vector as cvec
from core.engine.capture import TensorCapture
from core.engine.steering_types import (
    STRENGTH_MAX,
    LayerSeparation,
    Method,
    Pooling,
    SteeredReply,
    SteeringDirection,
    SteeringPair,
    SteeringRun,
    TokenShift,
)
from core.engine.types import ChatMessage
from core.errors import Cancelled, SteeringError

if TYPE_CHECKING:
    from core.engine.runner import ModelRunner

Progress = Callable[[int, int], None]
MAX_PAIRS = 200
MAX_TEXT_TOKENS = 512
UNEVEN_RATIO = 4.0  # longest / shortest text of a pair above this: say so
# Degeneration checks on a greedy reply (shown beside it, never used to hide it).
REPEAT_SHARE = 0.5  # over half the 3-grams seen before in the same reply: a loop
NOISE_BITS = 7.0  # mean next-token entropy this high: the model no longer knows what comes


def default_layers(n_layer: int) -> tuple[int, int]:
    """The middle third of the model's layers: where contrastive directions usually separate
    best and steering changes behaviour without breaking grammar."""
    start = max(1, n_layer // 3)
    return start, max(start, (2 * n_layer) // 3)


def check_pairs(pairs: Sequence[SteeringPair]) -> list[SteeringPair]:
    if not pairs:
        raise SteeringError("No pairs: a direction needs at least one positive/negative pair.")
    if len(pairs) > MAX_PAIRS:
        raise SteeringError(f"{len(pairs)} pairs is more than the {MAX_PAIRS} a build takes; "
                            "a few dozen good ones are enough.")
    for i, pair in enumerate(pairs, 1):
        if not pair.positive.strip() or not pair.negative.strip():
            raise SteeringError(f"Pair {i} has an empty side: both texts must say something.")
        if pair.positive.strip() == pair.negative.strip():
            raise SteeringError(f"Pair {i} has the same text on both sides: it shows no "
                                "contrast.")
    return list(pairs)


def check_strength(strength: float) -> float:
    value = float(strength)
    if not math.isfinite(value) or abs(value) > STRENGTH_MAX:
        raise SteeringError(f"Strength {strength} is outside -{STRENGTH_MAX:g} to "
                            f"{STRENGTH_MAX:g}.")
    return value


# -- building a direction ---------------------------------------------------------------------
def _text_ids(llm: Any, text: str) -> list[int]:
    add_bos = bool(llm._model.add_bos_token())
    ids = list(llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=False))
    if len(ids) > MAX_TEXT_TOKENS:
        raise SteeringError(f"A pair text has {len(ids)} tokens; keep each under "
                            f"{MAX_TEXT_TOKENS} (a sentence or two shows a contrast best).")
    return ids


def pooled_residuals(capture: TensorCapture, ids: list[int], n_layer: int,
                     pooling: Pooling) -> np.ndarray:
    """(n_layer, n_embd): each layer's residual stream over `ids`, pooled to one vector."""
    # all_logits: without it llama.cpp keeps only the last row of the last layer.
    captured = capture.run(ids, residual=True, all_logits=pooling == "mean")
    rows = []
    for layer in range(n_layer):
        stream = captured.residual[layer].astype(np.float64)
        if pooling == "last":
            rows.append(stream[-1])
        else:
            start = 1 if stream.shape[0] > 1 else 0
            rows.append(stream[start:].mean(axis=0))
    return np.stack(rows)


def directions_from(pos: np.ndarray, neg: np.ndarray,
                    method: Method) -> tuple[np.ndarray, np.ndarray]:
    """Unit directions (n_layer, n_embd) and mean-difference lengths (n_layer,) from pooled
    residuals `pos`, `neg` of shape (n_pairs, n_layer, n_embd)."""
    diffs = pos - neg
    mean = diffs.mean(axis=0)
    lengths = np.linalg.norm(mean, axis=1)
    if method == "mean":
        units = mean / np.maximum(lengths, 1e-12)[:, None]
    else:
        units = np.stack([_first_component(diffs[:, layer], mean[layer])
                          for layer in range(diffs.shape[1])])
    return units, lengths


def _first_component(diffs: np.ndarray, mean: np.ndarray) -> np.ndarray:
    _, _, vt = np.linalg.svd(diffs, full_matrices=False)
    first = vt[0]
    return first if float(first @ mean) >= 0 else -first


def separation(pos: np.ndarray, neg: np.ndarray, units: np.ndarray, lengths: np.ndarray,
               method: Method) -> tuple[LayerSeparation, ...]:
    n_pairs, n_layer, _ = pos.shape
    norms = np.linalg.norm(np.concatenate([pos, neg]), axis=2).mean(axis=0)
    out = []
    for layer in range(n_layer):
        accuracy = effect = None
        if n_pairs >= 2:
            p, q = pos[:, layer], neg[:, layer]
            hits = 0
            for held in range(n_pairs):
                rest = [i for i in range(n_pairs) if i != held]
                unit, _ = directions_from(p[rest][:, None], q[rest][:, None], method)
                hits += int(float((p[held] - q[held]) @ unit[0]) > 0)
            accuracy = hits / n_pairs
            a, b = p @ units[layer], q @ units[layer]
            spread = math.sqrt((float(a.var(ddof=1)) + float(b.var(ddof=1))) / 2)
            effect = float((a.mean() - b.mean()) / spread) if spread > 1e-12 else None
        out.append(LayerSeparation(layer, accuracy, effect, float(lengths[layer]),
                                   float(norms[layer])))
    return tuple(out)


def build_direction(runner: ModelRunner, pairs: Sequence[SteeringPair], method: Method = "mean",
                    pooling: Pooling = "mean", progress: Progress | None = None,
                    cancelled: Callable[[], bool] = lambda: False) -> SteeringDirection:
    """A direction per layer from `pairs` (see the module docstring for every choice)."""
    chosen = check_pairs(pairs)
    if method not in ("mean", "pca"):
        raise SteeringError(f"Unknown method {method!r}: use mean or pca.")
    if pooling not in ("mean", "last"):
        raise SteeringError(f"Unknown pooling {pooling!r}: use mean or last.")
    llm = runner.llm
    shape = cvec.model_shape(llm, runner.info.name)
    texts = [(_text_ids(llm, p.positive), _text_ids(llm, p.negative)) for p in chosen]
    capture = TensorCapture(llm)
    pos, neg = [], []
    try:
        for done, (good, bad) in enumerate(texts):
            if cancelled():
                raise Cancelled("Building the direction was cancelled.")
            pos.append(pooled_residuals(capture, good, shape.n_layer, pooling))
            neg.append(pooled_residuals(capture, bad, shape.n_layer, pooling))
            if progress is not None:
                progress(done + 1, len(texts))
    finally:
        capture.close()
    p, q = np.stack(pos), np.stack(neg)
    units, lengths = directions_from(p, q, method)
    notes = []
    if len(chosen) == 1:
        notes.append("One pair: the direction is built, but its separation cannot be scored "
                     "(nothing is left to test it on). Add pairs to see which layers separate.")
    uneven = [i + 1 for i, (a, b) in enumerate(texts)
              if max(len(a), len(b)) > UNEVEN_RATIO * min(len(a), len(b))]
    if uneven:
        notes.append(f"Pairs {', '.join(map(str, uneven[:5]))} have sides of very different "
                     "lengths; each text is averaged over its tokens so they still count "
                     "once, but length itself may leak into the direction.")
    return SteeringDirection(
        runner.info.path, shape.architecture, shape.n_layer, shape.n_embd, method, pooling,
        len(chosen), tuple(tuple(float(x) for x in row) for row in units.astype(np.float32)),
        tuple(float(x) for x in lengths), separation(p, q, units, lengths, method),
        " ".join(notes))


# -- applying it ------------------------------------------------------------------------------
def check_direction(direction: SteeringDirection, shape: cvec.ModelShape) -> None:
    if (direction.n_embd, direction.n_layer, direction.architecture) != (
            shape.n_embd, shape.n_layer, shape.architecture):
        raise SteeringError(
            f"This direction was built on a {direction.architecture} model with "
            f"{direction.n_layer} layers of width {direction.n_embd}; {shape.name} is "
            f"{shape.architecture} with {shape.n_layer} layers of width {shape.n_embd}. "
            "Build it again on this model.")


class Steerer:
    """Switches a control vector on the chat context of one runner, and always back."""

    def __init__(self, runner: ModelRunner) -> None:
        self._runner = runner
        self._llm = runner.llm
        self.shape = cvec.model_shape(self._llm, runner.info.name)

    def _fresh_cache(self) -> None:
        self._llm.n_tokens = 0
        self._llm._ctx.kv_cache_clear()

    def apply(self, vectors: dict[int, np.ndarray] | None, strength: float,
              layers: tuple[int, int]) -> None:
        ctx = self._llm._ctx.ctx
        if vectors is None or strength == 0.0:
            cvec.set_on_context(ctx, None, self.shape.n_embd)
        else:
            data = cvec.buffer(vectors, strength, self.shape.n_layer, self.shape.n_embd)
            cvec.set_on_context(ctx, data, self.shape.n_embd, layers)
        self._fresh_cache()

    def restore(self) -> None:
        """Back to what chat runs with: the runner's own control vector, or none."""
        kept = getattr(self._llm, cvec.CVEC_ATTR, None)
        ctx = self._llm._ctx.ctx
        if kept is None:
            cvec.set_on_context(ctx, None, self.shape.n_embd)
        else:
            data, start, end = kept
            cvec.set_on_context(ctx, data, self.shape.n_embd, (start, end))
        self._fresh_cache()


def _greedy(llm: Any, ids: list[int], max_tokens: int, top: int,
            cancelled: Callable[[], bool]) -> tuple[list[int], np.ndarray, list[float]]:
    """Greedy decode (no penalty, no sampling: what steering alone does). Returns the tokens,
    the first next-token distribution and each step's entropy in bits."""
    import llama_cpp

    n_vocab = llm.n_vocab()
    vocab = llm._model.vocab
    llm.eval(ids)
    out: list[int] = []
    first: np.ndarray | None = None
    entropies = []
    for _ in range(max_tokens):
        if cancelled():
            raise Cancelled("Steering was cancelled.")
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1),
                                       shape=(n_vocab,)).astype(np.float64)
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        if first is None:
            first = probs
        nz = probs[probs > 0]
        entropies.append(float(-(nz * np.log2(nz)).sum()))
        token = int(np.argmax(logits))
        if llama_cpp.llama_vocab_is_eog(vocab, token):
            break
        out.append(token)
        llm.eval([token])
    assert first is not None
    return out, first, entropies


def repeated_share(tokens: Sequence[int], n: int = 3) -> float:
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    if not grams:
        return 0.0
    seen: set[tuple[int, ...]] = set()
    repeats = 0
    for gram in grams:
        repeats += gram in seen
        seen.add(gram)
    return repeats / len(grams)


def degeneration(tokens: Sequence[int], mean_bits: float, repeats: float) -> str:
    if not tokens:
        return "says nothing (ends at once)"
    if len(tokens) >= 8 and repeats > REPEAT_SHARE:
        return f"repeats itself ({repeats:.0%} of its 3-grams are repeats)"
    if mean_bits > NOISE_BITS:
        return f"near-uniform noise (mean entropy {mean_bits:.1f} bits)"
    return ""


def run_steering(runner: ModelRunner, direction: SteeringDirection, prompt: str,
                 layers: tuple[int, int] | None = None, strengths: Sequence[float] = (0.0,),
                 max_tokens: int = 40, top: int = 8,
                 progress: Progress | None = None,
                 cancelled: Callable[[], bool] = lambda: False) -> SteeringRun:
    """Replies to `prompt` (through the chat template) at each strength, greedy, with the
    next-token distribution and its shift against strength 0, and each token's projection on
    the direction. The chat context is as it was afterwards."""
    started = time.perf_counter()
    steerer = Steerer(runner)
    shape = steerer.shape
    check_direction(direction, shape)
    span = cvec.check_layers(layers or default_layers(shape.n_layer), shape)
    values = [check_strength(s) for s in strengths]
    if not prompt.strip():
        raise SteeringError("The prompt is empty: type something for the model to answer.")
    llm = runner.llm
    ids = runner.tokenize_prompt(runner.render_prompt([ChatMessage("user", prompt)]))
    if len(ids) + max_tokens >= llm.n_ctx():
        raise SteeringError(f"The prompt has {len(ids)} tokens; with {max_tokens} to reply it "
                            f"does not fit the context of {llm.n_ctx()}.")
    vectors = cvec.direction_vectors(direction, span)
    results: list[tuple[float, list[int], np.ndarray, list[float]]] = []
    try:
        for done, strength in enumerate(values):
            steerer.apply(vectors, strength, span)
            results.append((strength, *_greedy(llm, ids, max_tokens, top, cancelled)))
            if progress is not None:
                progress(done + 1, len(values) + 1)
    finally:
        steerer.restore()
    base = _base_distribution(results, steerer, vectors, span, llm, ids, max_tokens, top)
    layer = _projection_layer(direction, span)
    unit = np.asarray(direction.vectors[layer], dtype=np.float64)
    capture = TensorCapture(llm)
    try:
        last = layer == direction.n_layer - 1  # llama.cpp keeps every row there only so
        stream = capture.run(ids, residual=True, all_logits=last).residual[layer]
        prompt_proj = tuple(float(x) for x in stream.astype(np.float64) @ unit)
        replies = [_reply(runner, capture, ids, layer, unit, r, base, top, last)
                   for r in results]
    finally:
        capture.close()
    if progress is not None:
        progress(len(values) + 1, len(values) + 1)
    pieces = tuple(runner.inspector.piece(t).text for t in ids)
    return SteeringRun(prompt, span, tuple(replies), pieces, prompt_proj, layer,
                       time.perf_counter() - started)


def _base_distribution(results: list[tuple[float, list[int], np.ndarray, list[float]]],
                       steerer: Steerer, vectors: dict[int, np.ndarray],
                       span: tuple[int, int], llm: Any, ids: list[int], max_tokens: int,
                       top: int) -> np.ndarray:
    for strength, _, first, _ in results:
        if strength == 0.0:
            return first
    try:  # strength 0 was not asked for: the shift needs it anyway
        steerer.apply(None, 0.0, span)
        return _greedy(llm, ids, 1, top, lambda: False)[1]
    finally:
        steerer.restore()


def _projection_layer(direction: SteeringDirection, span: tuple[int, int]) -> int:
    inside = [s for s in direction.separation if span[0] <= s.layer <= span[1]]
    if not inside:
        return span[0]
    return max(inside, key=lambda s: (s.accuracy or 0.0, s.effect or 0.0)).layer


def _reply(runner: ModelRunner, capture: TensorCapture, ids: list[int], layer: int,
           unit: np.ndarray, result: tuple[float, list[int], np.ndarray, list[float]],
           base: np.ndarray, top: int, last: bool) -> SteeredReply:
    strength, tokens, first, entropies = result
    inspector = runner.inspector
    order = np.argsort(-first, kind="stable")[:top]
    shifts = tuple(TokenShift(inspector.piece(int(i)).text, float(first[i]), float(base[i]))
                   for i in order)
    nz = first[first > 0]
    entropy = float(-(nz * np.log2(nz)).sum())
    mean_bits = float(np.mean(entropies)) if entropies else 0.0
    repeats = repeated_share(tokens)
    projection: tuple[float, ...] = ()
    if tokens:
        # Read unsteered: how far the words themselves lean along the direction.
        stream = capture.run(ids + tokens, residual=True,
                             all_logits=last).residual[layer][len(ids):]
        projection = tuple(float(x) for x in stream.astype(np.float64) @ unit)
    text = runner.llm.detokenize(tokens).decode("utf-8", errors="replace")
    return SteeredReply(strength, text, tuple(inspector.piece(t).text for t in tokens), shifts,
                        entropy, mean_bits, repeats, degeneration(tokens, mean_bits, repeats),
                        projection, layer)
