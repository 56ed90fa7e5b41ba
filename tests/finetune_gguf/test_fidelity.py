"""llama.cpp with our GGUF adapter changes the logits as PEFT's merged weights do.

transformers runs the same Q4_1 weights as llama.cpp, dequantized to float32, so both start
from identical weights; what differs is arithmetic: llama.cpp quantizes activations to 8 bits
before each Q4_1 matrix product (LLAMA_INTERNALS.md: attention within 0.06 of transformers),
while the adapter's own A and B products run in float32. So the logit *shift* the adapter
causes (adapted minus base, each side against its own base) is compared, which cancels the
shared part of that rounding:

- the noise floor: with no adapter the two engines differ by up to 0.86 logits (correlation
  0.9992); NOISE = 1.0 sits just above it. The shift does not cancel this noise fully (the
  adapter changes the activations that get rounded), so shifts are compared against it:
- trained adapter, all seven projections (mean shift 3.2 logits, max 10.3): correlation of
  the shifts over the whole vocabulary > 0.98 (measured 0.982), max |shift difference| <
  2 x NOISE (measured 1.54), mean |difference| < 0.15 x mean shift (measured 0.27 vs 3.15),
  and the top token agrees wherever transformers' top two are more than NOISE apart;
- random q/k-only adapter (mean shift 1.1): correlation > 0.9 (measured 0.951) and max
  difference < 2 x NOISE (measured 1.23), while the same adapter exported without the Q/K row
  reordering correlates at 0.00 (max difference 4.4): the test tells the orders apart.

A wrong orientation, a missing alpha/r or a wrong row order drops the correlation far below
these bounds (the control shows how far), or fails to load at all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.engine.runner import ModelRunner

NOISE = 1.0  # max |logit difference| between the two engines on the same base weights
MIN_CORR = 0.98


@pytest.fixture(scope="module")
def base_logits(model_path: Path, reference, llama_logits) -> np.ndarray:  # type: ignore[no-untyped-def]
    runner = ModelRunner(model_path, n_ctx=256, n_threads=2)
    try:
        return llama_logits(runner, reference.token_ids)
    finally:
        runner.close()


@pytest.fixture(scope="module")
def adapted_runner(model_path: Path, adapter_gguf: Path):  # type: ignore[no-untyped-def]
    runner = ModelRunner(model_path, n_ctx=256, n_threads=2, loras=[(adapter_gguf, 1.0)])
    yield runner
    runner.close()


def _compare(shift_llama: np.ndarray, shift_peft: np.ndarray) -> tuple[float, float, float]:
    """(lowest correlation over prompts, max |difference|, mean |difference|) of two shifts."""
    corr = min(float(np.corrcoef(a, b)[0, 1]) for a, b in zip(shift_llama, shift_peft,
                                                                   strict=True))
    diff = np.abs(shift_llama - shift_peft)
    return corr, float(diff.max()), float(diff.mean())


def test_engines_agree_without_adapter(reference, base_logits) -> None:  # type: ignore[no-untyped-def]
    # The noise floor the tolerances below are set against.
    corr, worst, _ = _compare(base_logits, reference.base)
    print(f"\nbase: corr {corr:.5f} max|diff| {worst:.3f}")
    assert corr > 0.998 and worst < NOISE


def test_logit_shift_matches_peft(reference, base_logits, adapted_runner, llama_logits) -> None:  # type: ignore[no-untyped-def]
    shift_peft = reference.adapted - reference.base
    shift_llama = llama_logits(adapted_runner, reference.token_ids) - base_logits
    corr, worst, mean = _compare(shift_llama, shift_peft)
    print(f"\ntrained: corr {corr:.5f} max|diff| {worst:.3f} mean|diff| {mean:.4f} "
          f"max|shift| {np.abs(shift_peft).max():.3f} mean|shift| {np.abs(shift_peft).mean():.3f}")
    assert np.abs(shift_peft).mean() > 1.0  # the adapter really moves the logits
    assert corr > MIN_CORR
    assert worst < 2 * NOISE
    assert mean < 0.15 * np.abs(shift_peft).mean()
    # The top token agrees wherever transformers' top two are further apart than the noise.
    adapted_llama = base_logits + shift_llama
    top2 = np.sort(reference.adapted, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > NOISE
    assert clear.any()
    assert (adapted_llama.argmax(1) == reference.adapted.argmax(1))[clear].all()


def test_qk_rows_are_reordered_as_llama_cpp_wants(reference, base_logits, model_path, llama_logits,
                                                 tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from core.finetune import gguf_lora

    shift_peft = reference.qk_adapted - reference.base

    def shift(out: Path) -> np.ndarray:
        runner = ModelRunner(model_path, n_ctx=256, n_threads=2, loras=[(out, 1.0)])
        try:
            return llama_logits(runner, reference.token_ids) - base_logits
        finally:
            runner.close()

    right = _compare(shift(gguf_lora.write_gguf_lora(reference.qk_dir, model_path,
                                                     tmp_path / "qk.gguf")), shift_peft)
    # The control: the same adapter with Hugging Face's row order left in place.
    monkeypatch.setitem(gguf_lora.ARCHITECTURES, "llama", False)
    wrong = _compare(shift(gguf_lora.write_gguf_lora(reference.qk_dir, model_path,
                                                     tmp_path / "qk-unordered.gguf")),
                     shift_peft)
    print(f"\nq/k: corr {right[0]:.5f} max|diff| {right[1]:.3f}; unordered: corr "
          f"{wrong[0]:.5f} max|diff| {wrong[1]:.3f}; mean|shift| {np.abs(shift_peft).mean():.3f}")
    assert right[0] > 0.9 and right[1] < 2 * NOISE  # a smaller shift: nearer the noise
    assert wrong[0] < right[0] - 0.3  # the check can tell the two orders apart
