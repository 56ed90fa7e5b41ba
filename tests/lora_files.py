"""LoRA adapters for tests that need one but not training: random A and B of the right shapes
for a GGUF base, saved as PEFT saves them and exported to GGUF by core.finetune.gguf_lora.

Shapes come from the base file's own header (embedding width, heads, KV heads, layers), so
the adapter fits whatever model the test reads. Seconds, with no torch or transformers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.finetune.gguf_lora import write_gguf_lora
from core.gguf.reader import read_header


def _shapes(base: Path) -> tuple[int, dict[str, tuple[int, int]]]:
    meta = read_header(base).metadata
    arch = str(meta["general.architecture"])
    width = int(meta[f"{arch}.embedding_length"])
    heads = int(meta[f"{arch}.attention.head_count"])
    kv_heads = int(meta.get(f"{arch}.attention.head_count_kv", heads))
    kv_width = width // heads * kv_heads
    ffn = int(meta[f"{arch}.feed_forward_length"])
    layers = int(meta[f"{arch}.block_count"])
    return layers, {"q_proj": (width, width), "k_proj": (kv_width, width),
                    "v_proj": (kv_width, width), "o_proj": (width, width),
                    "gate_proj": (ffn, width), "up_proj": (ffn, width),
                    "down_proj": (width, ffn)}


def random_adapter(base: Path, folder: Path, *, modules: Sequence[str] = ("v_proj", "o_proj"),
                   rank: int = 4, alpha: float = 8.0, std: float = 0.05,
                   seed: int = 0) -> Path:
    """A GGUF adapter at `folder`/adapter.gguf with random weights (`std` sets how strongly
    it moves the model); its PEFT folder beside it."""
    from safetensors.numpy import save_file

    layers, shapes = _shapes(base)
    rng = np.random.default_rng(seed)
    tensors = {}
    for layer in range(layers):
        for module in modules:
            out, inp = shapes[module]
            group = "self_attn" if module.endswith(("q_proj", "k_proj", "v_proj", "o_proj")) \
                else "mlp"
            key = f"base_model.model.model.layers.{layer}.{group}.{module}"
            tensors[f"{key}.lora_A.weight"] = rng.normal(0, std, (rank, inp)).astype(np.float32)
            tensors[f"{key}.lora_B.weight"] = rng.normal(0, std, (out, rank)).astype(np.float32)
    peft = folder / "peft"
    peft.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(peft / "adapter_model.safetensors"))
    (peft / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "r": rank, "lora_alpha": alpha, "target_modules": list(modules),
        "bias": "none"}), encoding="utf-8")
    return write_gguf_lora(peft, base, folder / "adapter.gguf")
