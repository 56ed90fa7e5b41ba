"""What an adapter changed, read through llama.cpp in a lab child: the bundled model with and
without a random adapter (tests/lora_files.py) on one text."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from core.finetune.effect import TOP, adapter_effect
from core.gguf.reader import read_header
from core.models.lab_child import LabJobError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lora_files import random_adapter  # noqa: E402

TEXT = "The lighthouse keeper climbed the stairs at dusk to light the lamp."


@pytest.fixture(scope="module")
def adapter(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return random_adapter(model_path, tmp_path_factory.mktemp("lora"), std=0.08, seed=3)


def test_the_adapter_moves_predictions_and_hidden_states(model_path: Path,
                                                         adapter: Path) -> None:
    effect = adapter_effect(model_path, adapter, TEXT)
    n = len(effect.ids) - 1
    assert n > 5 and len(effect.pieces) == len(effect.ids)
    assert effect.surprise_base.shape == effect.surprise_adapter.shape == effect.kl.shape == (n,)
    assert np.all(effect.surprise_base >= 0) and np.all(effect.kl >= 0)
    assert effect.kl.mean() > 1e-3  # a random adapter of this size changes predictions
    assert not np.allclose(effect.surprise_base, effect.surprise_adapter)
    assert len(effect.top_base) == len(effect.top_adapter) == n
    assert all(len(row) == TOP for row in effect.top_base)
    assert all(a[1] >= b[1] for row in effect.top_base for a, b in zip(row, row[1:], strict=False))
    # Perplexity is 2 ** mean surprise (bits) over the same tokens.
    assert effect.perplexity_base == pytest.approx(2 ** effect.surprise_base.mean(), rel=1e-4)
    layers = int(read_header(model_path).metadata["llama.block_count"])
    assert effect.drift_relative_l2.shape == effect.drift_cosine.shape == (layers,)
    assert effect.drift_relative_l2.max() > 0
    moved = effect.most_moved_layers(3)
    assert len(moved) == 3 and effect.drift_relative_l2[moved[0]] == effect.drift_relative_l2.max()


def test_scale_zero_is_the_base_model_exactly(model_path: Path, adapter: Path) -> None:
    effect = adapter_effect(model_path, adapter, TEXT, scale=0.0)
    assert np.array_equal(effect.surprise_base, effect.surprise_adapter)
    assert float(effect.kl.max()) == 0.0 and float(effect.drift_relative_l2.max()) == 0.0
    assert effect.surprise_change.max() == 0.0


def test_an_adapter_for_another_model_is_refused(tmp_path: Path, adapter: Path) -> None:
    from core.models.bundled import comparison_base_model

    other = comparison_base_model(Path.home() / ".cache" / "none")
    bogus = tmp_path / "not-a-model.gguf"
    bogus.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(LabJobError):
        adapter_effect(bogus, adapter, TEXT)
    assert other is None or other.exists()


def test_bad_requests_are_refused_before_any_child_starts(model_path: Path,
                                                           adapter: Path) -> None:
    from core.errors import PromptError

    with pytest.raises(PromptError, match="text"):
        adapter_effect(model_path, adapter, "   ")
    with pytest.raises(PromptError, match="between 0 and 2"):
        adapter_effect(model_path, adapter, TEXT, scale=2.5)
