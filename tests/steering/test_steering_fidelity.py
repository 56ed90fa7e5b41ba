"""Steering through llama.cpp's control vector equals adding the same vector to the residual
stream of the transformers reference (same Q4_1 weights, dequantized to float32), a direction
from pairs equals a direct recomputation from captured residuals, and a control vector
survives its GGUF file.

Tolerance. Without steering the two engines already differ (llama.cpp rounds activations to 8
bits before each Q4_1 product): on these prompts by up to NOISE logits (measured 0.5-0.9,
tests/finetune_gguf says the same). So the *shift* steering causes (steered minus unsteered,
each engine against itself) is compared, which cancels most of that shared rounding: the
shifts must correlate over the whole vocabulary above MIN_CORR and differ by less than NOISE
at worst, while the shift itself is several times larger than NOISE. Measured (2 cores): noise
0.60, shift up to 13.5 logits, correlation 0.9988, max |difference| 0.62. The control, the
same vectors one layer later in the reference (llama.cpp's numbering taken one off, as
cvector-generator's files are), measured correlation 0.975 and max |difference| 4.9: both
bounds reject it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from steering_pairs import starter_pairs

from core.engine import control_vector as cvec
from core.engine.capture import TensorCapture
from core.engine.runner import ModelRunner
from core.engine.steering import Steerer, build_direction, pooled_residuals
from core.engine.steering_types import SteeringDirection

PROMPT = "My favourite day of the week is"
LAYERS = (8, 14)
STRENGTH = 2.0
NOISE = 1.0
MIN_CORR = 0.99


@pytest.fixture(scope="module")
def pairs():  # type: ignore[no-untyped-def]

    return starter_pairs("positive_negative", 3)


@pytest.fixture(scope="module")
def direction(runner: ModelRunner, pairs) -> SteeringDirection:  # type: ignore[no-untyped-def]
    return build_direction(runner, pairs)


def _prompt_ids(runner: ModelRunner) -> list[int]:
    llm = runner.llm
    return list(llm.tokenize(PROMPT.encode(), add_bos=bool(llm._model.add_bos_token()),
                             special=False))


def _llama_last_logits(runner: ModelRunner, ids: list[int]) -> np.ndarray:
    import llama_cpp

    llm = runner.llm
    llm.reset()
    llm._ctx.kv_cache_clear()
    llm.eval(ids)
    ptr = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
    return np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).copy()


def _llama_steered(runner: ModelRunner, ids: list[int],
                   vectors: dict[int, np.ndarray], layers: tuple[int, int]) -> np.ndarray:
    steerer = Steerer(runner)
    steerer.apply(vectors, STRENGTH, layers)
    try:
        return _llama_last_logits(runner, ids)
    finally:
        steerer.restore()


def _reference_logits(model, ids: list[int],  # type: ignore[no-untyped-def]
                      vectors: dict[int, np.ndarray] | None = None) -> np.ndarray:
    import torch

    handles = []

    def adder(vector: np.ndarray):  # type: ignore[no-untyped-def]
        added = torch.from_numpy(vector * STRENGTH)

        def hook(_module, _inputs, output):  # type: ignore[no-untyped-def]
            # A decoder layer returns its hidden states, alone or first in a tuple.
            if isinstance(output, tuple):
                return (output[0] + added, *output[1:])
            return output + added
        return hook

    for layer, vector in (vectors or {}).items():
        handles.append(model.model.layers[layer].register_forward_hook(adder(vector)))
    try:
        with torch.no_grad():
            return model(torch.tensor([ids])).logits[0, -1].numpy().astype(np.float64)
    finally:
        for handle in handles:
            handle.remove()


def test_control_vector_matches_the_reference(runner: ModelRunner, direction: SteeringDirection,
                                              reference_model) -> None:  # type: ignore[no-untyped-def]
    ids = _prompt_ids(runner)
    vectors = cvec.direction_vectors(direction, LAYERS)
    plain_llama = _llama_last_logits(runner, ids)
    plain_ref = _reference_logits(reference_model, ids)
    noise = float(np.abs(plain_llama - plain_ref).max())
    shift_llama = _llama_steered(runner, ids, vectors, LAYERS) - plain_llama
    shift_ref = _reference_logits(reference_model, ids, vectors) - plain_ref
    corr = float(np.corrcoef(shift_llama, shift_ref)[0, 1])
    worst = float(np.abs(shift_llama - shift_ref).max())
    size = float(np.abs(shift_ref).max())
    # The control: the same vectors one layer later in the reference (llama.cpp's numbering
    # taken one off, as cvector-generator's files are).
    later = {layer + 1: v for layer, v in vectors.items()}
    shift_off = _reference_logits(reference_model, ids, later) - plain_ref
    corr_off = float(np.corrcoef(shift_llama, shift_off)[0, 1])
    worst_off = float(np.abs(shift_llama - shift_off).max())
    print(f"\nnoise {noise:.3f}; shift max {size:.2f}; corr {corr:.4f} max|diff| {worst:.3f}; "
          f"one layer off: corr {corr_off:.4f} max|diff| {worst_off:.3f}")
    assert noise < NOISE
    assert size > 3 * NOISE  # steering really moves the logits
    assert corr > MIN_CORR
    assert worst < NOISE
    assert worst_off > NOISE and corr_off < corr  # the bounds tell the right layer from the next
    # Plain chat is untouched afterwards: the same logits as before steering.
    assert np.allclose(_llama_last_logits(runner, ids), plain_llama, atol=1e-4)


def test_direction_equals_numpy_recomputation(runner: ModelRunner, direction: SteeringDirection,
                                              pairs) -> None:  # type: ignore[no-untyped-def]
    llm = runner.llm
    add_bos = bool(llm._model.add_bos_token())
    capture = TensorCapture(llm)
    try:
        diffs = []
        for pair in pairs:
            sides = []
            for text in (pair.positive, pair.negative):
                ids = list(llm.tokenize(text.encode(), add_bos=add_bos, special=False))
                got = capture.run(ids, residual=True, all_logits=True).residual
                sides.append(np.stack([got[layer][1:].astype(np.float64).mean(axis=0)
                                       for layer in range(direction.n_layer)]))
            diffs.append(sides[0] - sides[1])
        # pooled_residuals is what build_direction used; this is its arithmetic written out.
        one = pooled_residuals(capture, ids, direction.n_layer, "mean")
        assert np.allclose(one, sides[1], atol=1e-5)
    finally:
        capture.close()
    mean = np.mean(diffs, axis=0)
    expected = mean / np.linalg.norm(mean, axis=1, keepdims=True)
    got_vectors = np.array(direction.vectors)
    assert np.allclose(got_vectors, expected, atol=1e-5)
    assert np.allclose(direction.scales, np.linalg.norm(mean, axis=1), rtol=1e-5)


def test_control_vector_round_trips(direction: SteeringDirection, runner: ModelRunner,
                                    tmp_path: Path) -> None:
    path = cvec.save(direction, tmp_path / "glad.gguf", LAYERS)
    loaded = cvec.load(path)
    assert loaded.model_hint == direction.architecture
    assert loaded.layer_count == direction.n_layer - 1
    assert loaded.n_embd == direction.n_embd
    assert loaded.suggested_layers == LAYERS
    assert sorted(loaded.directions) == list(range(1, direction.n_layer))
    wanted = cvec.direction_vectors(direction, LAYERS)
    for layer, vector in loaded.directions.items():
        expected = wanted.get(layer, np.zeros(direction.n_embd, dtype=np.float32))
        assert np.array_equal(vector, expected)
    cvec.check_fits(loaded, cvec.model_shape(runner.llm))  # made here: it fits
