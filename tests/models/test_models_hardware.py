"""Hardware detection and the memory estimate: KV cache, fit verdicts, GPU layers."""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

import pytest

from core.models import hardware
from core.models.hardware import HardwareInfo, check_fit, detect_hardware, kv_cache_bytes
from core.models.metadata import ModelFacts, read_facts

GB = 1_000_000_000


def _facts(file_size: int = 4 * GB, n_layer: int = 32) -> ModelFacts:
    # Shaped like an 8B Llama 3: 32 layers, 8 KV heads of 128.
    return ModelFacts("llama", 8_000_000_000, "Q4_K_M", file_size, 8192, "llama3", True, None,
                      n_layer, 8, 128, 128)


def _cpu(available_gb: float) -> HardwareInfo:
    return HardwareInfo(64 * GB, int(available_gb * GB), 8, "CPU", False)


def test_kv_cache_follows_the_formula(model_path: Path) -> None:
    smol = read_facts(model_path)  # 30 layers, 3 KV heads of 64
    assert kv_cache_bytes(smol, 4096) == 30 * 4096 * 3 * 64 * 2 * 2
    assert kv_cache_bytes(_facts(), 8192) == 32 * 8192 * 8 * 128 * 2 * 2  # 1 GiB at f16
    assert kv_cache_bytes(_facts(), 8192, bytes_per_element=1) == 32 * 8192 * 8 * 128 * 2
    unknown = replace(_facts(), n_head_kv=None)
    assert kv_cache_bytes(unknown, 8192) is None
    assert "KV cache unknown" in check_fit(unknown, 8192, _cpu(32)).message


def test_fit_verdicts_on_a_cpu_machine() -> None:
    assert check_fit(_facts(), 8192, _cpu(32)).verdict == "fits"
    tight = check_fit(_facts(), 8192, _cpu(7.5))
    assert tight.verdict == "tight" and tight.fits and tight.gpu_layers == 0
    too_big = check_fit(_facts(), 8192, _cpu(4))
    assert not too_big.fits and "smaller quantization" in too_big.message
    # A longer context is what tips it over: the KV cache grows with it.
    assert check_fit(_facts(), 2048, _cpu(6.5)).fits
    assert not check_fit(_facts(), 65536, _cpu(6.5)).fits


def test_gpu_layers_fill_the_free_vram() -> None:
    gpu = HardwareInfo(64 * GB, 32 * GB, 8, "CUDA", True, "Test GPU", 24 * GB, 20 * GB)
    assert check_fit(_facts(), 8192, gpu).gpu_layers == -1  # all of it fits
    small = replace(gpu, vram_free=3 * GB)
    layers = check_fit(_facts(), 8192, small).gpu_layers
    assert 0 < layers < 32
    assert "layers on the GPU" in check_fit(_facts(), 8192, small).message
    unknown = replace(gpu, vram_total=None, vram_free=None)  # Vulkan without nvidia-smi
    assert check_fit(_facts(), 8192, unknown).gpu_layers == 0
    apple = HardwareInfo(16 * GB, None, 8, "Metal", True, unified_memory=True)
    assert check_fit(_facts(), 8192, apple).gpu_layers == -1


def test_vram_is_read_from_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA H100 80GB HBM3, 81559, 80000'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}")
    assert hardware.nvidia_gpu() == ("NVIDIA H100 80GB HBM3", 81559 << 20, 80000 << 20)
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert hardware.nvidia_gpu() is None


def test_this_machine_is_described() -> None:
    hw = detect_hardware()
    assert hw.ram_total and hw.ram_total > GB and hw.cpu_threads >= 1
    assert hw.gpu_backend in ("CPU", "CUDA", "Metal", "Vulkan", "ROCm", "SYCL", "GPU")
    assert hw.gpu_offload == (hw.gpu_backend != "CPU")
