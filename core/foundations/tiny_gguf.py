"""A trained tiny model written as a GGUF that llama.cpp loads as a `llama` model.

The tensors are the model's own, float32, under llama.cpp's names (`token_embd`, `blk.N.attn_q`,
..., `output_norm`; no `output`: the head is tied to the embedding, as llama.cpp allows). The
embedding gets one row per token of the chat model's vocabulary: the trained row of each token
the text used, and the shared "unseen" row for every other token, so the file computes the very
distribution the model trained on (see core.foundations.tiny_model). Q and K go in unpermuted:
the model already rotates adjacent pairs, llama.cpp's RoPE for this architecture.

The tokenizer is the chat model's: every `tokenizer.*` key of its GGUF is copied as it is, so
llama.cpp splits text into the same tokens the tiny model learned from.

Float32 keeps llama.cpp's matmuls in float32 on the CPU (quantized weights would make it round
the activations to 8 bits), which is what lets the fidelity test hold a tight tolerance.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from core.errors import FoundationsError
from core.foundations.tiny_model import RMS_EPS, ROPE_BASE, TinyConfig, build_model

ARCH = "llama"


def load_checkpoint(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """The trained model (torch, eval mode) and the checkpoint's plain parts."""
    import math

    import torch

    path = Path(path)
    if not path.is_file():
        raise FoundationsError(f"No checkpoint at {path}: train the model first.")
    try:
        state = torch.load(path, weights_only=False)
    except Exception as exc:  # a torn or foreign file: torch raises many kinds
        raise FoundationsError(f"{path} cannot be read as a tiny-model checkpoint: {exc}"
                               ) from exc
    config = TinyConfig.from_json(state["config"])
    vocab = state["vocab"]
    model = build_model(config, len(vocab["seen"]) + 1)
    model.load_state_dict(state["model"])
    model.unseen_log_count = math.log(max(vocab["full_size"] - len(vocab["seen"]), 1))
    model.eval()
    return model, {"config": config, "vocab": vocab, "step": int(state["step"])}


def full_embedding(model: Any, seen: list[int], full_size: int) -> Any:
    """(full_size, width) float32 numpy: trained rows at their token ids, the shared unseen
    row everywhere else."""
    import numpy as np

    rows = model.embed.weight.detach().float().numpy()
    full = np.repeat(rows[-1:], full_size, axis=0)
    full[np.asarray(seen, dtype=np.int64)] = rows[:-1]
    return np.ascontiguousarray(full, dtype=np.float32)


def _tensors(model: Any, seen: list[int], full_size: int) -> list[tuple[str, Any]]:
    import numpy as np

    def arr(t: Any) -> Any:
        return np.ascontiguousarray(t.detach().float().numpy(), dtype=np.float32)

    out = [("token_embd.weight", full_embedding(model, seen, full_size))]
    for i, block in enumerate(model.blocks):
        # torch Linear weights are (out, in); GGUF stores numpy arrays as they are (its dims are
        # the numpy shape reversed), the same convention llama.cpp's converter uses
        out += [
            (f"blk.{i}.attn_norm.weight", arr(block.attn_norm.weight)),
            (f"blk.{i}.attn_q.weight", arr(block.attn.q.weight)),
            (f"blk.{i}.attn_k.weight", arr(block.attn.k.weight)),
            (f"blk.{i}.attn_v.weight", arr(block.attn.v.weight)),
            (f"blk.{i}.attn_output.weight", arr(block.attn.o.weight)),
            (f"blk.{i}.ffn_norm.weight", arr(block.ffn_norm.weight)),
            (f"blk.{i}.ffn_gate.weight", arr(block.gate.weight)),
            (f"blk.{i}.ffn_up.weight", arr(block.up.weight)),
            (f"blk.{i}.ffn_down.weight", arr(block.down.weight)),
        ]
    out.append(("output_norm.weight", arr(model.norm.weight)))
    return out


def _copy_tokenizer(writer: Any, tokenizer_gguf: str | Path) -> None:
    import gguf

    try:
        reader = gguf.GGUFReader(str(tokenizer_gguf))
    except Exception as exc:  # gguf raises ValueError, struct.error, ...: a damaged file
        raise FoundationsError(f"Cannot read the chat model's tokenizer from "
                               f"{tokenizer_gguf}: {exc}") from exc
    copied = 0
    for field in reader.fields.values():
        if not field.name.startswith("tokenizer."):
            continue
        kind = field.types[0]
        sub = field.types[1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub)
        copied += 1
    if not copied:
        raise FoundationsError(f"{Path(tokenizer_gguf).name} has no tokenizer metadata.")


def export_gguf(checkpoint: str | Path, out_path: str | Path, name: str = "tiny model"
                ) -> Path:
    """Write the checkpoint's model as a llama GGUF at `out_path` (replaced whole, never left
    half-written); returns the path. FoundationsError when it cannot."""
    import gguf

    model, info = load_checkpoint(checkpoint)
    config: TinyConfig = info["config"]
    vocab = info["vocab"]
    out_path = Path(out_path)
    temp = out_path.with_name(f".{out_path.name}.{os.getpid()}.part")
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        writer = gguf.GGUFWriter(str(temp), ARCH)
        try:
            writer.add_type(gguf.GGUFType.MODEL)
            writer.add_name(name)
            writer.add_context_length(config.context)
            writer.add_embedding_length(config.width)
            writer.add_block_count(config.layers)
            writer.add_feed_forward_length(config.ffn)
            writer.add_head_count(config.heads)
            writer.add_head_count_kv(config.heads)
            writer.add_rope_dimension_count(config.head_dim)
            writer.add_rope_freq_base(ROPE_BASE)
            writer.add_layer_norm_rms_eps(RMS_EPS)
            writer.add_vocab_size(int(vocab["full_size"]))
            writer.add_file_type(gguf.LlamaFileType.ALL_F32)
            _copy_tokenizer(writer, vocab["tokenizer_path"])
            for tensor_name, data in _tensors(model, list(vocab["seen"]),
                                              int(vocab["full_size"])):
                writer.add_tensor(tensor_name, data)
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_tensors_to_file()
            if writer.fout:  # on disk before the rename makes it visible
                for f in writer.fout:
                    f.flush()
                    os.fsync(f.fileno())
        finally:
            writer.close()
        os.replace(temp, out_path)
    except OSError as exc:
        raise FoundationsError(f"Cannot write {out_path}: {exc.strerror or exc}") from exc
    finally:
        temp.unlink(missing_ok=True)
    return out_path


def register_gguf(path: str | Path, name: str) -> str:
    """Add the exported file to the model library under `name` (a unique variant when taken);
    returns the library name. The file stays where it is."""
    from core.models.registry import ModelRegistry

    registry = ModelRegistry()
    for entry in registry.models():
        if Path(entry.path) == Path(path).resolve() or Path(entry.path) == Path(path):
            registry.remove(entry.name)  # a re-export of the same run replaces its entry
    return registry.import_file(path, copy=False, name=None if _taken(registry, name)
                                else name).name


def _taken(registry: Any, name: str) -> bool:
    return any(e.name.lower() == name.lower() for e in registry.models())


def export_to_library(checkpoint: str | Path, name: str) -> tuple[Path, str]:
    """Export to `<models folder>/NAME.gguf` and register it; returns the path and the name
    the library gave it (the CLI's --out and the panel's Save share this)."""
    from core.models.registry import models_dir

    path = export_gguf(checkpoint, models_dir() / f"{name}.gguf", f"{name} (tiny model)")
    return path, register_gguf(path, name)
