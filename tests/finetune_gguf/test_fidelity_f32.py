"""llama.cpp with our GGUF adapters against PEFT, on unquantized weights: tight tolerances.

The model runs as an F32 GGUF dequantized from the bundled Q4_1 one with gguf.quants, the
dequantizer transformers uses, so both engines hold the same float32 weights bit for bit, and
llama.cpp's F32 matrix products keep activations in float32 (its Q4_1 products round them to
8 bits: test_fidelity.py). What is left is float32 summation order, and, where noted, float16:

- logits (runner with an F32 KV cache), max |difference| over the vocabulary at the last
  position of three prompts: no adapter 0.013, trained adapter on all seven projections 0.006,
  random attention-only adapter 0.006, random MLP-only adapter 0.007. LOGIT_TOL = 0.05: four
  times the worst, 17 times under the Q4_1 noise floor (0.86), and at least 80 times under the
  smallest adapter effect tested (4.4 logits). Adapters ride llama.cpp's float32 path
  `W x + s B (A x)` against PEFT's merged `(W + s B A) x`: the order differs, the sum does not.
- residual stream after each layer (llama.cpp's capture context, whose KV cache is F16: K and
  V rounded to 11 bits, 4.9e-4 relative), relative L2 per token, worst over layers 0..28 and
  tokens: no adapter 6.8e-4, MLP-only 6.3e-4, attention-only 8.9e-4, trained 1.4e-3 (it moves
  late-layer activations furthest, and the F16 rounding of K and V grows with them). Each
  tolerance is about three times its measurement; each adapter moves the residuals by at
  least ten times its tolerance (0.27 MLP, 0.38 attention, 3.3 trained).
- the Q/K row order: the q/k-only adapter matches within LOGIT_TOL (0.011 measured), the same
  adapter left in Hugging Face's row order misses by 5.1 logits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.engine.runner import ModelRunner

KINDS = ("trained", "attention", "mlp")
LOGIT_TOL = 0.05  # max |logit difference|, any adapter or none
RESIDUAL_TOL = {"base": 2e-3, "mlp": 2e-3, "attention": 3e-3, "trained": 4e-3}


def _runner(path: Path, loras: list[tuple[Path, float]] | None = None) -> ModelRunner:
    # An F32 KV cache too: an F16 one rounds K and V (and Q, to meet K) to 11 bits.
    return ModelRunner(path, n_ctx=256, n_threads=2, kv_type="f32", loras=loras or [])


@pytest.fixture(scope="module")
def adapters(reference, model_path: Path, adapter_gguf: Path,  # type: ignore[no-untyped-def]
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from core.finetune.gguf_lora import write_gguf_lora

    folder = tmp_path_factory.mktemp("kinds")
    out = {"trained": adapter_gguf}
    for kind in ("attention", "mlp"):
        out[kind] = write_gguf_lora(reference.dirs[kind], model_path, folder / f"{kind}.gguf")
    return out


def _logits(path: Path, ids: list[list[int]], llama_logits,  # type: ignore[no-untyped-def]
            loras: list[tuple[Path, float]] | None = None) -> np.ndarray:
    runner = _runner(path, loras)
    try:
        return llama_logits(runner, ids)  # type: ignore[no-any-return]
    finally:
        runner.close()


def test_f32_engines_agree_without_adapter(reference, f32_model: Path, llama_logits) -> None:  # type: ignore[no-untyped-def]
    worst = float(np.abs(_logits(f32_model, reference.token_ids, llama_logits)
                         - reference.base).max())
    print(f"\nF32 base: max|diff| {worst:.4f}")
    assert worst < LOGIT_TOL


@pytest.mark.parametrize("kind", KINDS)
def test_f32_adapted_logits_match_peft(kind: str, reference, f32_model: Path, adapters,  # type: ignore[no-untyped-def]
                                       llama_logits) -> None:
    expected = reference.logits[kind]
    got = _logits(f32_model, reference.token_ids, llama_logits, [(adapters[kind], 1.0)])
    worst = float(np.abs(got - expected).max())
    effect = float(np.abs(expected - reference.base).max())
    print(f"\nF32 {kind}: max|diff| {worst:.4f}, the adapter moves logits by up to {effect:.2f}")
    assert effect > 20 * LOGIT_TOL  # the adapter is far above the tolerance
    assert worst < LOGIT_TOL


@pytest.mark.parametrize("kind", ("base", *KINDS))
def test_f32_residuals_match_per_layer(kind: str, reference, f32_model: Path, adapters) -> None:  # type: ignore[no-untyped-def]
    from core.engine.quant_compare import read_text

    lora = None if kind == "base" else (str(adapters[kind]), 1.0)
    worst = np.zeros(0)
    effect = np.zeros(0)
    for i, ids in enumerate(reference.token_ids):
        reading = read_text(str(f32_model), "", ids, lora=lora)
        want = reference.hidden[kind][i]  # (layers - 1, tokens, hidden)
        got = np.stack([reading.residual[layer] for layer in range(len(want))])
        rel = np.linalg.norm(got - want, axis=2) / np.linalg.norm(want, axis=2)
        worst = np.maximum(worst, rel.max(axis=1)) if worst.size else rel.max(axis=1)
        moved = (np.linalg.norm(want - reference.hidden["base"][i], axis=2)
                 / np.linalg.norm(want, axis=2)).max(axis=1)
        effect = np.maximum(effect, moved) if effect.size else moved
    print(f"\nF32 {kind} residuals: max rel L2 {worst.max():.2e} (layer {worst.argmax()}), "
          f"first {worst[0]:.1e} last {worst[-1]:.1e}; adapter moves them up to "
          f"{effect.max():.2e}")
    assert (worst < RESIDUAL_TOL[kind]).all()
    if kind != "base":
        assert effect.max() > 10 * RESIDUAL_TOL[kind]


def test_qk_rows_are_reordered_as_llama_cpp_wants(reference, f32_model: Path, model_path: Path,  # type: ignore[no-untyped-def]
                                                 llama_logits, tmp_path, monkeypatch) -> None:
    from core.finetune import gguf_lora

    right = gguf_lora.write_gguf_lora(reference.qk_dir, model_path, tmp_path / "qk.gguf")
    # The control: the same adapter with Hugging Face's row order left in place.
    monkeypatch.setitem(gguf_lora.ARCHITECTURES, "llama", False)
    wrong = gguf_lora.write_gguf_lora(reference.qk_dir, model_path, tmp_path / "qk-hf.gguf")
    diffs = [float(np.abs(_logits(f32_model, reference.token_ids, llama_logits, [(p, 1.0)])
                          - reference.qk_adapted).max()) for p in (right, wrong)]
    print(f"\nq/k: max|diff| {diffs[0]:.4f}; rows left in HF order: {diffs[1]:.3f}")
    assert diffs[0] < LOGIT_TOL
    assert diffs[1] > 20 * LOGIT_TOL  # the check tells the two orders apart
