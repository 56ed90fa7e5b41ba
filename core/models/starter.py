"""A short, hand-picked list of good small chat models to start with.

THIS LIST CAN GO STALE. Repositories get renamed, re-uploaded or taken down, and better small
models appear every few months. It was written in 2025 from repositories known to exist then;
each entry names one file, and `glassbox models files REPO` shows what the repository holds
today. Downloads are checked against the hub's own sha256, never against anything here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

REVIEWED = "2025"
# A suggested model may take this share of the computer's RAM, leaving the rest to the system,
# the browser, Glassbox itself and the embedding model.
SUGGEST_RAM_SHARE = 0.5


@dataclass(frozen=True)
class StarterModel:
    title: str
    repo_id: str
    filename: str
    parameters: str
    approx_size: str  # of this file, as the hub listed it; the hub's figure is the real one
    license: str
    note: str
    # About how much memory it takes at a 4,096-token context: the file, its KV cache (from
    # the architecture: layers x KV heads x head size) and buffers. For suggestions only; the
    # Models tab's fit box reads the real file.
    ram_gb: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


STARTER_MODELS: tuple[StarterModel, ...] = (
    StarterModel("Qwen2.5 0.5B Instruct", "bartowski/Qwen2.5-0.5B-Instruct-GGUF",
                 "Qwen2.5-0.5B-Instruct-Q4_K_M.gguf", "0.5B", "0.4 GB", "apache-2.0",
                 "the smallest that holds a conversation; fast on any CPU", 0.6),
    StarterModel("Qwen2.5 1.5B Instruct", "bartowski/Qwen2.5-1.5B-Instruct-GGUF",
                 "Qwen2.5-1.5B-Instruct-Q4_K_M.gguf", "1.5B", "1.0 GB", "apache-2.0",
                 "good all-rounder for laptops; many languages", 1.3),
    StarterModel("SmolLM2 1.7B Instruct", "bartowski/SmolLM2-1.7B-Instruct-GGUF",
                 "SmolLM2-1.7B-Instruct-Q4_K_M.gguf", "1.7B", "1.1 GB", "apache-2.0",
                 "big sibling of the bundled SmolLM2 135M; English", 2.1),
    StarterModel("Llama 3.2 1B Instruct", "bartowski/Llama-3.2-1B-Instruct-GGUF",
                 "Llama-3.2-1B-Instruct-Q4_K_M.gguf", "1.2B", "0.8 GB", "llama3.2",
                 "Meta's smallest chat model; Llama 3.2 community licence", 1.1),
    StarterModel("Llama 3.2 3B Instruct", "bartowski/Llama-3.2-3B-Instruct-GGUF",
                 "Llama-3.2-3B-Instruct-Q4_K_M.gguf", "3.2B", "2.0 GB", "llama3.2",
                 "noticeably better answers; wants 4 GB of free memory", 2.7),
    StarterModel("Phi-3.5 mini Instruct", "bartowski/Phi-3.5-mini-instruct-GGUF",
                 "Phi-3.5-mini-instruct-Q4_K_M.gguf", "3.8B", "2.4 GB", "mit",
                 "strong at reasoning for its size; long context", 4.2),
    StarterModel("Gemma 2 2B Instruct", "bartowski/gemma-2-2b-it-GGUF",
                 "gemma-2-2b-it-Q4_K_M.gguf", "2.6B", "1.7 GB", "gemma",
                 "Google's small chat model; Gemma terms of use", 2.3),
)

# Best first, roughly by the instruct models' published benchmark scores: the suggestion is the
# first of these that fits the computer.
_BEST_FIRST = ("Phi-3.5 mini Instruct", "Llama 3.2 3B Instruct", "Qwen2.5 1.5B Instruct",
               "Gemma 2 2B Instruct", "SmolLM2 1.7B Instruct", "Llama 3.2 1B Instruct",
               "Qwen2.5 0.5B Instruct")


def suggest_starter(ram_total: int | None, ram_available: int | None = None,
                    models: tuple[StarterModel, ...] = STARTER_MODELS) -> StarterModel | None:
    """The best starter model that fits a computer with this much RAM (bytes): it may take
    SUGGEST_RAM_SHARE of the total (else 80% of what is available now). Unknown RAM gets the
    best one that fits 4 GB; None when even the smallest does not fit."""
    if ram_total:
        budget = ram_total * SUGGEST_RAM_SHARE
    elif ram_available:
        budget = ram_available * 0.8
    else:
        budget = 4e9 * SUGGEST_RAM_SHARE
    ranked = sorted(models, key=lambda m: _BEST_FIRST.index(m.title)
                    if m.title in _BEST_FIRST else len(_BEST_FIRST))
    return next((m for m in ranked if m.ram_gb * 1e9 <= budget), None)


def suggest_for_this_computer() -> StarterModel | None:
    """suggest_starter for the RAM of the computer this runs on."""
    from core.models.hardware import memory

    return suggest_starter(*memory())
