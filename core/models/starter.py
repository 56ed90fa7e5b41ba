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


@dataclass(frozen=True)
class StarterModel:
    title: str
    repo_id: str
    filename: str
    parameters: str
    approx_size: str  # of this file, as the hub listed it; the hub's figure is the real one
    license: str
    note: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


STARTER_MODELS: tuple[StarterModel, ...] = (
    StarterModel("Qwen2.5 0.5B Instruct", "bartowski/Qwen2.5-0.5B-Instruct-GGUF",
                 "Qwen2.5-0.5B-Instruct-Q4_K_M.gguf", "0.5B", "0.4 GB", "apache-2.0",
                 "the smallest that holds a conversation; fast on any CPU"),
    StarterModel("Qwen2.5 1.5B Instruct", "bartowski/Qwen2.5-1.5B-Instruct-GGUF",
                 "Qwen2.5-1.5B-Instruct-Q4_K_M.gguf", "1.5B", "1.0 GB", "apache-2.0",
                 "good all-rounder for laptops; many languages"),
    StarterModel("SmolLM2 1.7B Instruct", "bartowski/SmolLM2-1.7B-Instruct-GGUF",
                 "SmolLM2-1.7B-Instruct-Q4_K_M.gguf", "1.7B", "1.1 GB", "apache-2.0",
                 "big sibling of the bundled SmolLM2 135M; English"),
    StarterModel("Llama 3.2 1B Instruct", "bartowski/Llama-3.2-1B-Instruct-GGUF",
                 "Llama-3.2-1B-Instruct-Q4_K_M.gguf", "1.2B", "0.8 GB", "llama3.2",
                 "Meta's smallest chat model; Llama 3.2 community licence"),
    StarterModel("Llama 3.2 3B Instruct", "bartowski/Llama-3.2-3B-Instruct-GGUF",
                 "Llama-3.2-3B-Instruct-Q4_K_M.gguf", "3.2B", "2.0 GB", "llama3.2",
                 "noticeably better answers; wants 4 GB of free memory"),
    StarterModel("Phi-3.5 mini Instruct", "bartowski/Phi-3.5-mini-instruct-GGUF",
                 "Phi-3.5-mini-instruct-Q4_K_M.gguf", "3.8B", "2.4 GB", "mit",
                 "strong at reasoning for its size; long context"),
    StarterModel("Gemma 2 2B Instruct", "bartowski/gemma-2-2b-it-GGUF",
                 "gemma-2-2b-it-Q4_K_M.gguf", "2.6B", "1.7 GB", "gemma",
                 "Google's small chat model; Gemma terms of use"),
)
