"""The Learn views read the model the chat runs: with a LoRA adapter loaded, Attention (a
capture context of its own over the same weights) sees the adapted model, follows a scale
changed without reloading, and at scale 0 is the base model exactly."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from core.engine.client import EngineClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lora_files import random_adapter  # noqa: E402

TEXT = "Attention shows which earlier tokens each token looks at."


def test_attention_follows_the_adapter_and_its_scale(own_engine: EngineClient,
                                                     model_path: Path, tmp_path: Path) -> None:
    # q and k only: they are what attention probabilities are made of.
    adapter = random_adapter(model_path, tmp_path, modules=("q_proj", "k_proj"), std=0.1)
    own_engine.load(model_path, n_ctx=512)
    base = own_engine.attention(TEXT).attention
    info = own_engine.load(model_path, n_ctx=512, loras=[(adapter, 1.0)])
    assert [lora.scale for lora in info.loras] == [1.0]
    adapted = own_engine.attention(TEXT).attention
    assert adapted.shape == base.shape
    assert float(np.abs(adapted - base).max()) > 1e-3
    own_engine.set_lora_scales({adapter: 0.0})
    assert np.array_equal(own_engine.attention(TEXT).attention, base)
    own_engine.set_lora_scales({adapter: 1.0})
    assert np.array_equal(own_engine.attention(TEXT).attention, adapted)
    # Next token (the engine's own context) and Attention agree on which model they read.
    with_adapter = own_engine.next_token("The capital of France is")
    own_engine.set_lora_scales({adapter: 0.0})
    without = own_engine.next_token("The capital of France is")
    assert with_adapter.raw[0].prob != pytest.approx(without.raw[0].prob, abs=1e-6)
