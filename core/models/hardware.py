"""Will this model fit? This machine's memory and GPU, and what a model needs at a context size.

The estimate is deliberately simple and a little generous: weights (the file size, as llama.cpp
maps the whole file) plus the KV cache at the chosen context, plus a margin for compute
buffers. Models with sliding-window layers (Gemma) need less KV than this says, never more.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.defaults import DEFAULT_N_CTX, KV_BYTES_PER_ELEMENT
from core.models.metadata import ModelFacts, format_bytes

_F16 = KV_BYTES_PER_ELEMENT["f16"]  # K and V in f16, llama.cpp's default

# Share of available RAM a model may take and still leave room for the OS, the app and the
# embedding model; share of free VRAM that layers may take (the driver and buffers want some).
_RAM_SHARE = 0.8
_VRAM_SHARE = 0.9
# Unified memory (Apple silicon): Metal may use about this share of RAM for the GPU.
_UNIFIED_GPU_SHARE = 0.7
_BASE_OVERHEAD = 150_000_000  # compute buffers, logits, the runtime itself
_OVERHEAD_SHARE = 0.05


@dataclass(frozen=True)
class HardwareInfo:
    ram_total: int | None
    ram_available: int | None
    cpu_threads: int
    gpu_backend: str  # "CPU", "CUDA", "Metal", "Vulkan", "ROCm", "SYCL" or "GPU"
    gpu_offload: bool  # the installed llama.cpp build can put layers on a GPU
    gpu_name: str | None = None
    vram_total: int | None = None  # None: unknown (no nvidia-smi) or unified memory
    vram_free: int | None = None
    unified_memory: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MemoryEstimate:
    n_ctx: int
    weights: int
    kv_cache: int | None  # None: the header lacks the numbers to work it out
    overhead: int

    @property
    def total(self) -> int:
        return self.weights + (self.kv_cache or 0) + self.overhead


@dataclass(frozen=True)
class FitReport:
    """Whether a model fits here at a context size, and how many layers to give the GPU."""

    verdict: str  # "fits", "tight" or "too big"
    fits: bool
    gpu_layers: int  # for llama.cpp's n_gpu_layers: 0 = CPU only, -1 = all layers
    estimate: MemoryEstimate
    message: str
    # Set when the context asked for is longer than the model was trained on: it fits in
    # memory, but past its trained length a model loses track (a warning, not a memory verdict).
    context_warning: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["estimate"]["total"] = self.estimate.total
        return data


# -- detection -------------------------------------------------------------------------------
def _meminfo() -> tuple[int | None, int | None]:
    try:
        fields = dict(line.split(":", 1) for line in
                      Path("/proc/meminfo").read_text().splitlines() if ":" in line)
        total = int(fields["MemTotal"].split()[0]) * 1024
        available = fields.get("MemAvailable")
        return total, int(available.split()[0]) * 1024 if available else None
    except (OSError, KeyError, ValueError):
        return None, None


def _windows_memory() -> tuple[int | None, int | None]:
    import ctypes

    class MemoryStatus(ctypes.Structure):
        _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                    ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
                    ("ullTotalPageFile", ctypes.c_ulonglong),
                    ("ullAvailPageFile", ctypes.c_ulonglong),
                    ("ullTotalVirtual", ctypes.c_ulonglong),
                    ("ullAvailVirtual", ctypes.c_ulonglong),
                    ("ullAvailExtendedVirtual", ctypes.c_ulonglong)]

    status = MemoryStatus()
    status.dwLength = ctypes.sizeof(MemoryStatus)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
        return None, None
    return int(status.ullTotalPhys), int(status.ullAvailPhys)


def _sysconf_memory() -> tuple[int | None, int | None]:
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        total = page * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None, None
    try:
        available: int | None = page * os.sysconf("SC_AVPHYS_PAGES")  # free, not reclaimable
    except (ValueError, OSError):
        available = None
    return total, available


def memory() -> tuple[int | None, int | None]:
    """(total, available) RAM in bytes; either may be None where the system will not say."""
    if sys.platform.startswith("linux"):
        total, available = _meminfo()
        if total:
            return total, available
    if sys.platform == "win32":
        return _windows_memory()
    if sys.platform == "darwin":
        try:
            out = subprocess.run(["sysctl", "-n", "hw.memsize"], capture_output=True, text=True,
                                 timeout=3, check=True).stdout
            # macOS keeps caches in "used" memory; free pages say little, so leave it unknown.
            return int(out.strip()), None
        except (OSError, subprocess.SubprocessError, ValueError):
            pass
    return _sysconf_memory()


def cpu_threads() -> int:
    """Threads this process may run on (respects affinity masks and containers' CPU sets)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


@functools.lru_cache(maxsize=1)
def gpu_backend() -> tuple[str, bool]:
    """(backend name, can offload) of the installed llama.cpp build. Cached: it cannot change
    while we run. Imports llama_cpp here, not at module import: it loads the native library."""
    try:
        import llama_cpp
    except (ImportError, OSError):
        return "CPU", False
    offload = bool(llama_cpp.llama_supports_gpu_offload())
    if not offload:
        return "CPU", False
    if sys.platform == "darwin":
        return "Metal", True
    info = llama_cpp.llama_print_system_info().decode("utf-8", "replace").upper()
    lib = Path(llama_cpp.__file__).parent / "lib"
    libs = " ".join(p.name.upper() for p in lib.iterdir()) if lib.is_dir() else ""
    for name, marks in (("CUDA", ("CUDA",)), ("ROCm", ("HIP", "ROCM")), ("Vulkan", ("VULKAN",)),
                        ("SYCL", ("SYCL",)), ("Metal", ("METAL",))):
        if any(m in info or m in libs for m in marks):
            return name, True
    return "GPU", True


def nvidia_gpu() -> tuple[str, int, int] | None:
    """(name, total, free) VRAM in bytes of the first NVIDIA GPU, from nvidia-smi if present."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=name,memory.total,memory.free",
                              "--format=csv,noheader,nounits"], capture_output=True, text=True,
                             timeout=5, check=True).stdout
        name, total, free = (part.strip() for part in out.splitlines()[0].split(","))
        return name, int(float(total)) << 20, int(float(free)) << 20  # MiB
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def detect_hardware() -> HardwareInfo:
    """RAM, CPU threads, the llama.cpp GPU backend and VRAM where it can be known."""
    total, available = memory()
    backend, offload = gpu_backend()
    gpu = nvidia_gpu() if offload and backend in ("CUDA", "Vulkan", "GPU") else None
    return HardwareInfo(
        ram_total=total, ram_available=available, cpu_threads=cpu_threads(),
        gpu_backend=backend, gpu_offload=offload,
        gpu_name=gpu[0] if gpu else None, vram_total=gpu[1] if gpu else None,
        vram_free=gpu[2] if gpu else None, unified_memory=backend == "Metal",
    )


# -- estimates -------------------------------------------------------------------------------
def kv_cache_bytes(facts: ModelFacts, n_ctx: int, bytes_per_element: float = _F16) -> int | None:
    """n_layer x n_ctx x n_head_kv x (key + value head size) x bytes: f16 K and V by default."""
    if not (facts.n_layer and facts.n_head_kv and facts.key_length and facts.value_length):
        return None
    per_token = facts.n_layer * facts.n_head_kv * (facts.key_length + facts.value_length)
    return int(per_token * n_ctx * bytes_per_element)


def estimate_memory(facts: ModelFacts, n_ctx: int,
                    kv_bytes_per_element: float = _F16) -> MemoryEstimate:
    """Memory a model needs at context `n_ctx` (weights + KV cache + buffers)."""
    overhead = _BASE_OVERHEAD + int(facts.file_size * _OVERHEAD_SHARE)
    return MemoryEstimate(n_ctx, facts.file_size, kv_cache_bytes(facts, n_ctx,
                                                                 kv_bytes_per_element), overhead)


def ram_budget(hw: HardwareInfo) -> int | None:
    """Bytes of RAM a model may reasonably take now."""
    if hw.ram_available is not None:
        return int(hw.ram_available * _RAM_SHARE)
    return int(hw.ram_total * _RAM_SHARE * 0.75) if hw.ram_total else None


def _gpu_budget(hw: HardwareInfo) -> int | None:
    if not hw.gpu_offload:
        return None
    if hw.unified_memory and hw.ram_total:
        return int(hw.ram_total * _UNIFIED_GPU_SHARE)
    return int(hw.vram_free * _VRAM_SHARE) if hw.vram_free is not None else None


def recommend_gpu_layers(facts: ModelFacts, estimate: MemoryEstimate,
                         hw: HardwareInfo) -> int:
    """Layers to put on the GPU: -1 (all) when the model fits there, as many as fit when it
    does not, 0 on CPU builds or when free VRAM is unknown (a wrong guess fails the load)."""
    budget = _gpu_budget(hw)
    if budget is None or not facts.n_layer:
        return 0
    if estimate.total <= budget:
        return -1
    # Each repeating layer holds about an equal share of the weights and of the KV cache; the
    # output layer and the buffers stay in the budget's margin.
    per_layer = (estimate.weights + (estimate.kv_cache or 0)) / (facts.n_layer + 1)
    room = budget - estimate.overhead
    return max(0, min(facts.n_layer, int(room // per_layer))) if per_layer > 0 else 0


def check_fit(facts: ModelFacts, n_ctx: int = DEFAULT_N_CTX, hw: HardwareInfo | None = None,
              kv_bytes_per_element: float = _F16) -> FitReport:
    """Does the model fit in this machine's memory at `n_ctx`, and with how many GPU layers?
    `kv_bytes_per_element` follows the KV-cache type: 2 for f16, about 1.06 for q8_0."""
    hw = hw or detect_hardware()
    estimate = estimate_memory(facts, n_ctx, kv_bytes_per_element)
    layers = recommend_gpu_layers(facts, estimate, hw)
    gpu_budget = _gpu_budget(hw) or 0
    on_gpu = estimate.total if layers == -1 else (
        int(estimate.total * layers / (facts.n_layer + 1)) if layers and facts.n_layer else 0)
    budget = ram_budget(hw)
    need_ram = estimate.total - (0 if hw.unified_memory else on_gpu)
    if budget is None:
        verdict, fits = "fits", True  # unknown RAM: do not block the user on a guess
    elif need_ram <= budget * 0.75:
        verdict, fits = "fits", True
    elif need_ram <= budget:
        verdict, fits = "tight", True
    else:
        verdict, fits = "too big", False
    where = ("all layers on the GPU" if layers == -1 else
             f"{layers} layers on the GPU, the rest on the CPU" if layers else "on the CPU")
    kv = format_bytes(estimate.kv_cache) if estimate.kv_cache is not None else "unknown"
    message = (f"needs about {format_bytes(estimate.total)} at {n_ctx} tokens of context "
               f"(weights {format_bytes(estimate.weights)}, KV cache {kv}); "
               f"{verdict} here, {where}")
    if budget is not None:
        message += f" (RAM budget {format_bytes(budget)}"
        message += f", GPU budget {format_bytes(gpu_budget)})" if gpu_budget else ")"
    if not fits:
        message += ". Try a smaller quantization or a shorter context"
    trained = facts.context_length
    warning = ""
    if trained and n_ctx > trained:
        warning = (f"{n_ctx:,} tokens is beyond the {trained:,} this model was trained on: "
                   "past that it loses track of the text and repeats itself. Set the context "
                   f"to {trained:,} or less.")
    return FitReport(verdict, fits, layers, estimate, message + ".", warning)
