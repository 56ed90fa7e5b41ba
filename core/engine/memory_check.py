"""Refuse a context that cannot fit in memory before llama.cpp tries to allocate it.

llama.cpp asks the system for the whole KV cache when it makes a context. Far beyond RAM the
request fails (a vague "failed to create context"); a little beyond, Linux may grant it and
kill the engine later, mid-reply. Checking the estimate first gives a message a person can act on.
"""

from __future__ import annotations

from pathlib import Path

from core.defaults import KV_BYTES_PER_ELEMENT
from core.errors import ModelLoadError
from core.gguf.reader import GGUFHeader


def _gb(n: int) -> str:
    return f"{n / 2**30:,.1f} GB"


def kv_bytes(header: GGUFHeader, path: Path, n_ctx: int, bytes_per_element: float) -> int | None:
    """The KV cache's size at `n_ctx`, or None when the header does not say enough."""
    from core.models.hardware import kv_cache_bytes
    from core.models.metadata import facts_from_header

    facts = facts_from_header(path, header.metadata, header.parameter_count, header.actual_size)
    return kv_cache_bytes(facts, n_ctx, bytes_per_element)


def check_context_fits(header: GGUFHeader, path: Path, n_ctx: int, n_gpu_layers: int,
                       bytes_per_element: float = KV_BYTES_PER_ELEMENT["f16"]) -> None:
    """Raise ModelLoadError when the weights and KV cache at `n_ctx` exceed this machine's RAM.

    Only CPU loads are checked: with GPU offload the cache lives partly in VRAM.
    """
    from core.models.hardware import memory

    if n_gpu_layers != 0:
        return
    total, _available = memory()
    cache = kv_bytes(header, path, n_ctx, bytes_per_element)
    if total is None or cache is None:
        return
    needed = cache + header.actual_size
    if needed > total:
        raise ModelLoadError(
            f"A context of {n_ctx:,} tokens for {path.name} needs about {_gb(needed)} of memory "
            f"(KV cache {_gb(cache)} plus the weights), more than this machine's "
            f"{_gb(total)}. Choose a smaller context in the Models tab's load settings."
        )


def context_failure(path: Path, n_ctx: int, exc: BaseException) -> ModelLoadError:
    """What to say when llama.cpp could not make the context (most often: memory)."""
    return ModelLoadError(
        f"llama.cpp loaded {path.name} but could not set up a context of {n_ctx:,} tokens, "
        "most likely for lack of memory. Choose a smaller context in the Models tab's load "
        f"settings, or close other programs. ({exc})"
    )
