"""An adapter folded into a full GGUF: the same logits as the adapter applied at run time.

Merging the F32 copy with the trained adapter in F32 and running it against the F32 copy with
the adapter at run time compares `(W + s B A) x` with `W x + s B (A x)` in float32 on both
sides, summed in another order (and the merged weight rounded once to float32): measured max
|logit difference| 0.0026, MERGED_F32_TOL = 0.01. Written as F16, each changed weight is
rounded to 11 bits (4.9e-4 relative) and llama.cpp's F16 products round the activations to
F16 too: measured 0.034, MERGED_F16_TOL = 0.1, a hundredth of the trained adapter's effect
(10.3 logits) and well under the Q4_1 noise floor (0.86).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from core.engine.runner import ModelRunner
from core.errors import Cancelled
from core.finetune.merge import merge_adapter

MERGED_F32_TOL = 0.01
MERGED_F16_TOL = 0.1


def _logits(path: Path, ids, llama_logits, loras=()) -> np.ndarray:  # type: ignore[no-untyped-def]
    runner = ModelRunner(path, n_ctx=256, n_threads=2, kv_type="f32", loras=list(loras))
    try:
        return llama_logits(runner, ids)  # type: ignore[no-any-return]
    finally:
        runner.close()


@pytest.fixture(scope="module")
def at_run_time(reference, f32_model: Path, adapter_gguf: Path, llama_logits) -> np.ndarray:  # type: ignore[no-untyped-def]
    return _logits(f32_model, reference.token_ids, llama_logits, [(adapter_gguf, 1.0)])


@pytest.mark.parametrize(("float_type", "tolerance"), [("F32", MERGED_F32_TOL),
                                                       ("F16", MERGED_F16_TOL)])
def test_merged_model_matches_the_adapter_at_run_time(  # type: ignore[no-untyped-def]
        float_type: str, tolerance: float, reference, f32_model: Path, adapter_gguf: Path,
        at_run_time: np.ndarray, llama_logits, tmp_path: Path) -> None:
    from core.models.quantize import tensor_types

    folder = tmp_path / "out"
    folder.mkdir()
    out = merge_adapter(f32_model, adapter_gguf, folder / "merged.gguf", float_type=float_type)
    merged = _logits(out, reference.token_ids, llama_logits)
    worst = float(np.abs(merged - at_run_time).max())
    effect = float(np.abs(at_run_time - reference.base).max())
    print(f"\nmerged {float_type}: max|diff| {worst:.5f} (adapter effect {effect:.2f})")
    assert worst < tolerance
    assert effect > 10 * tolerance
    # 7 projections x 30 layers were rewritten in the asked-for type; the rest stay F32.
    types = tensor_types(out)
    assert types.get(float_type, 0) >= 210
    assert list(folder.iterdir()) == [out]  # no temporary file left beside it


def test_quantized_merge_loads_and_answers(model_path: Path, adapter_gguf: Path,
                                           tmp_path: Path) -> None:
    from core.models.quantize import tensor_types

    folder = tmp_path / "out"
    folder.mkdir()
    out = merge_adapter(model_path, adapter_gguf, folder / "merged-q8.gguf", scale=2.0,
                        quant_type="Q8_0")
    assert "Q8_0" in tensor_types(out) and "F16" not in tensor_types(out)
    runner = ModelRunner(out, n_ctx=256, n_threads=2)
    try:
        text = runner.llm.create_completion("Glassbox is", max_tokens=8, temperature=0)
        assert text["choices"][0]["text"].strip()
    finally:
        runner.close()
    assert list(folder.iterdir()) == [out]


def test_cancelled_merge_leaves_nothing(model_path: Path, adapter_gguf: Path,
                                        tmp_path: Path) -> None:
    class Now:
        def is_set(self) -> bool:
            return True

    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(Cancelled):
        merge_adapter(model_path, adapter_gguf, folder / "merged.gguf", cancel=Now())
    assert list(folder.iterdir()) == []


def test_cli_merges_a_trained_run(model_path: Path, adapter_gguf: Path) -> None:
    import shutil

    from core.cli import main
    from core.finetune import runs

    run_dir = runs.run_folder("tiny")
    run_dir.mkdir(parents=True)
    shutil.copy(adapter_gguf, run_dir / runs.GGUF_ADAPTER)
    runs.write_json_atomic(run_dir / runs.MANIFEST, {
        "name": "tiny", "status": "finished", "base": {"path": str(model_path)}})
    out, err = io.StringIO(), io.StringIO()
    assert main(["finetune", "merge", "tiny"], out=out, err=err) == 0, err.getvalue()
    assert (run_dir / "merged.gguf").is_file()
    assert "Merged model:" in out.getvalue()
