"""How a model is loaded: context length, GPU layers (or an automatic fit), threads, flash
attention, KV type; and the one builder that turns these into `EngineClient.load` arguments.

The chat, Compare, the CLI and the benchmarks all load through `load_options`, so a choice made
in the Models tab holds wherever a model runs (`core.engine.loading.load_model` applies it:
the engine sits above the model library, so the call lives there). Stored by `core.settings`
under the "load" key.
Unknown or mistyped values fall back to the defaults, so a hand-edited database never stops a
model from loading.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.defaults import DEFAULT_N_CTX, KV_TYPES, kv_bytes_per_element

__all__ = ["AUTO", "KV_TYPES", "LoadSettings", "load_options"]

AUTO = None


def _int_at_least(value: Any, low: int) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= low:
        return value
    return None


@dataclass(frozen=True)
class LoadSettings:
    gpu_layers: int | None = AUTO  # None: as many as fit (hardware.check_fit); -1: all
    threads: int = 0  # 0: one a core
    flash_attn: bool = False
    kv_type: str = "f16"
    n_ctx: int = DEFAULT_N_CTX  # the context window, in tokens

    @property
    def kv_bytes_per_element(self) -> float:
        return kv_bytes_per_element(self.kv_type)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_value(cls, value: Any) -> LoadSettings:
        """Settings from what the store holds, keeping only values of the right type."""
        if not isinstance(value, dict):
            return cls()
        layers = _int_at_least(value.get("gpu_layers"), -1)
        threads = _int_at_least(value.get("threads"), 0)
        n_ctx = _int_at_least(value.get("n_ctx"), 1)
        kv = value.get("kv_type")
        return cls(
            gpu_layers=AUTO if layers is None else layers,
            threads=0 if threads is None else threads,
            flash_attn=value.get("flash_attn") is True,
            kv_type=kv if kv in KV_TYPES else "f16",
            n_ctx=DEFAULT_N_CTX if n_ctx is None else n_ctx,
        )


def load_options(settings: LoadSettings, path: str | Path) -> dict[str, Any]:
    """Keyword arguments for `EngineClient.load(path, **options)`, with "Auto" GPU layers
    worked out for this model at this context. Runs where a model is loaded (a worker, the
    CLI), never on a GUI thread: the automatic fit reads the file's header and asks llama.cpp
    about the GPU."""
    layers = settings.gpu_layers
    if layers is AUTO:
        layers = _auto_gpu_layers(Path(path), settings.n_ctx, settings.kv_bytes_per_element)
    return {"n_ctx": settings.n_ctx, "n_gpu_layers": layers,
            "n_threads": settings.threads or None, "flash_attn": settings.flash_attn,
            "kv_type": settings.kv_type}


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
