"""How a model is loaded: GPU layers (or an automatic fit), threads, flash attention, KV type.

Stored as one plain dict under the "load" setting; the context length keeps its own "n_ctx"
setting, which the engine read before this existed. Unknown or mistyped values fall back to the
defaults, so a hand-edited database never stops a model from loading.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SETTING_KEY = "load"
KV_TYPES = ("f16", "q8_0", "q4_0")
# Bytes per cached element: q8_0 and q4_0 store blocks of 32 values with one f16 scale.
KV_BYTES = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}
AUTO = None


@dataclass(frozen=True)
class LoadSettings:
    gpu_layers: int | None = AUTO  # None: as many as fit (hardware.check_fit); -1: all
    threads: int = 0  # 0: one a core
    flash_attn: bool = False
    kv_type: str = "f16"

    @property
    def kv_bytes_per_element(self) -> float:
        return KV_BYTES.get(self.kv_type, 2.0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_value(cls, value: Any) -> LoadSettings:
        """Settings from what the store holds, keeping only values of the right type."""
        if not isinstance(value, dict):
            return cls()
        layers = value.get("gpu_layers")
        threads = value.get("threads")
        kv = value.get("kv_type")
        return cls(
            gpu_layers=layers if isinstance(layers, int) and not isinstance(layers, bool)
            and layers >= -1 else AUTO,
            threads=threads if isinstance(threads, int) and not isinstance(threads, bool)
            and threads >= 0 else 0,
            flash_attn=value.get("flash_attn") is True,
            kv_type=kv if kv in KV_TYPES else "f16",
        )


def engine_options(settings: LoadSettings, path: str | Path, n_ctx: int) -> dict[str, Any]:
    """Keyword arguments for `EngineClient.load`, with "Auto" GPU layers worked out for this
    model at this context. Runs where a model is loaded (a worker), never on a GUI thread:
    the automatic fit reads the file's header and asks llama.cpp about the GPU."""
    layers = settings.gpu_layers
    if layers is AUTO:
        layers = _auto_gpu_layers(Path(path), n_ctx, settings.kv_bytes_per_element)
    return {"n_gpu_layers": layers, "n_threads": settings.threads or None,
            "flash_attn": settings.flash_attn, "kv_type": settings.kv_type}


def _auto_gpu_layers(path: Path, n_ctx: int, kv_bytes: float) -> int:
    from core.errors import GlassboxError
    from core.models.hardware import check_fit, detect_hardware
    from core.models.metadata import read_facts

    hw = detect_hardware()
    if not hw.gpu_offload:
        return 0  # a CPU build: no header to read
    try:
        facts = read_facts(path)
    except GlassboxError:
        return 0  # the loader reports the bad file with its own, clearer message
    return check_fit(facts, n_ctx, hw, kv_bytes).gpu_layers
