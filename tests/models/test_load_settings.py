"""Load settings: tolerant parsing of the stored value, and what reaches llama.cpp."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.engine.runner import ModelRunner
from core.engine.types import ChatMessage, SamplingSettings, TokenEvent
from core.models import load_settings
from core.models.hardware import HardwareInfo
from core.models.load_settings import LoadSettings, load_options


def test_stored_values_of_the_wrong_type_fall_back_to_defaults() -> None:
    assert LoadSettings.from_value(None) == LoadSettings()
    odd = {"gpu_layers": True, "threads": -3, "flash_attn": "yes", "kv_type": "q2_k",
           "n_ctx": "4096"}
    assert LoadSettings.from_value(odd) == LoadSettings()
    kept = LoadSettings(gpu_layers=12, threads=4, flash_attn=True, kv_type="q8_0", n_ctx=1024)
    assert LoadSettings.from_value(kept.to_dict()) == kept
    assert kept.kv_bytes_per_element < LoadSettings().kv_bytes_per_element


def test_auto_gpu_layers_is_zero_on_a_cpu_build(monkeypatch: pytest.MonkeyPatch,
                                                 model_path: Path) -> None:
    cpu = HardwareInfo(8 << 30, 6 << 30, 4, "CPU", False)
    monkeypatch.setattr("core.models.hardware.detect_hardware", lambda: cpu)
    options = load_options(LoadSettings(n_ctx=2048), model_path)
    assert options == {"n_ctx": 2048, "n_gpu_layers": 0, "n_threads": None,
                       "flash_attn": False, "kv_type": "f16"}
    gpu = HardwareInfo(8 << 30, 6 << 30, 4, "CUDA", True, "Test GPU", 8 << 30, 8 << 30)
    monkeypatch.setattr("core.models.hardware.detect_hardware", lambda: gpu)
    assert load_settings._auto_gpu_layers(model_path, 2048, 2.0) == -1  # all fit in 8 GB


def test_a_quantized_kv_cache_with_flash_attention_still_answers(model_path: Path) -> None:
    runner = ModelRunner(model_path, 512, 0, n_threads=2, flash_attn=True, kv_type="q8_0")
    try:
        events = runner.generate([ChatMessage("user", "Hi")],
                                 SamplingSettings(max_tokens=4, seed=1), lambda: False)
        assert any(isinstance(e, TokenEvent) and e.text for e in events)
    finally:
        runner.close()
