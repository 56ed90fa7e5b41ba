"""Settings, the refusal of base models transformers cannot load, and the cost estimate."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import pytest
from conftest import pirate_examples

from core.errors import TrainingError, UnsupportedBaseModel
from core.finetune.data import Dataset
from core.finetune.job import TrainingJob
from core.finetune.settings import (
    TrainingSettings,
    check_base_model,
    estimate,
    explain,
    supported_architectures,
)


def _tiny_gguf(path: Path, arch: str) -> Path:
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_block_count(1)
    writer.add_tensor("blk.0.attn_q.weight", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_an_unknown_architecture_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    base = _tiny_gguf(tmp_path / "odd.gguf", "frobnicator")
    with pytest.raises(UnsupportedBaseModel, match="frobnicator") as caught:
        check_base_model(base)
    assert "llama" in str(caught.value)  # says which ones would do
    run = tmp_path / "run"
    with pytest.raises(UnsupportedBaseModel):
        TrainingJob(TrainingSettings(), Dataset(pirate_examples(4), "x"), base, run)
    assert not run.exists()


def test_the_bundled_model_is_supported(model_path: Path) -> None:
    facts = check_base_model(model_path)
    assert facts.architecture == "llama" and "llama" in supported_architectures()
    assert 100_000_000 < facts.parameter_count < 200_000_000


def test_estimate_counts_lora_parameters_and_memory(model_path: Path) -> None:
    facts = check_base_model(model_path)
    settings = TrainingSettings(rank=8, batch_size=4, epochs=2)
    cost = estimate(settings, facts, train_tokens=10_000, train_examples=100)
    # SmolLM2-135M: 30 layers, hidden 576, 9 heads and 3 KV heads of 64: q and o are
    # 576x576, k and v 576x192; LoRA adds rank x (in + out) for each.
    assert cost.lora_parameters == 8 * 30 * (2 * (576 + 576) + 2 * (576 + 192))
    assert cost.steps == 2 * 25
    assert cost.weights_bytes == facts.parameter_count * 4
    assert cost.total_bytes > cost.weights_bytes + cost.training_state_bytes
    assert cost.train_s == pytest.approx(2 * 10_000 / cost.tokens_per_s)
    wider = estimate(TrainingSettings(rank=16), facts, 10_000, 100)
    assert wider.lora_parameters == 2 * estimate(TrainingSettings(rank=8), facts, 10_000,
                                                 100).lora_parameters
    assert "GiB" in cost.describe()


def test_settings_validate_and_explain_themselves() -> None:
    TrainingSettings().validate()
    for bad in ({"rank": 0}, {"learning_rate": 0.0}, {"max_length": 4},
                {"held_out_fraction": 1.0}, {"target_modules": ()}):
        with pytest.raises(TrainingError):
            TrainingSettings(**bad).validate()  # type: ignore[arg-type]
    assert "rank" in explain("rank").lower()
    settings = TrainingSettings(rank=4, target_modules=("q_proj",))
    assert TrainingSettings.from_json(settings.to_json()) == settings
