"""A PEFT LoRA adapter written as a GGUF adapter that llama.cpp applies at run time, and the
numbers the Fine-tune lab's anatomy view draws from either kind of adapter.

The layout is llama.cpp's (what its `convert_lora_to_gguf.py` writes and `llama-adapter.cpp`
checks): metadata `general.type = adapter`, `adapter.type = lora`, `adapter.lora.alpha`, the
base's `general.architecture`; for each adapted weight `W` (GGUF name `blk.N.attn_q.weight`)
two float32 tensors `blk.N.attn_q.weight.lora_a` (numpy shape `(r, in)`, PEFT's lora_A as is)
and `.lora_b` (`(out, r)`, PEFT's lora_B). llama.cpp adds `scale * alpha / r * B @ (A @ x)`,
with `r` read from lora_b, exactly PEFT's `alpha / r` scaling.

Llama-family GGUFs store the Q and K projections with the rows of each head reordered (the
converter interleaves the two rotary halves of every head, to suit llama.cpp's RoPE). The rows
of `W + B @ A` are the rows of `B`, so the same reordering goes onto lora_b of q and k, never
onto lora_a (its rows are the rank, its columns the unpermuted hidden size).

Adapters are small (rank 8 on q/k/v/o of a 135M model: about 1.8 MB), so the whole adapter is
read into memory; safetensors are read with numpy, without importing torch (seconds).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.atomic import atomic_path
from core.errors import AdapterError, GlassboxError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["AdapterAnatomy", "LayerNorm", "adapter_anatomy", "write_gguf_lora"]

CONFIG_NAME = "adapter_config.json"
WEIGHTS_NAME = "adapter_model.safetensors"

# PEFT module name -> llama.cpp tensor name inside a block. Embeddings and the output head are
# left out: llama.cpp transposes and ties those differently and the bundled model ties them.
MODULES = {
    "q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
    "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down",
}
_GGUF_TO_PEFT = {v: k for k, v in MODULES.items()}
# Architectures whose converter reorders Q/K rows (True) or keeps HF order (False). Only
# "llama" is checked against PEFT by tests/finetune_gguf; the others follow llama.cpp's
# converter, which leaves their projections as Hugging Face stores them.
ARCHITECTURES = {"llama": True, "qwen2": False, "qwen3": False}

_PEFT_KEY = re.compile(
    r"^(?:base_model\.model\.)?(?:model\.)?layers\.(\d+)\.(?:self_attn|mlp)\."
    r"(\w+)\.lora_([AB])\.weight$")
_GGUF_KEY = re.compile(r"^blk\.(\d+)\.(\w+)\.weight\.lora_([ab])$")


# -- reading a PEFT adapter ---------------------------------------------------------------------
@dataclass(frozen=True)
class _Pair:
    layer: int
    module: str  # PEFT name: q_proj, ...
    a: np.ndarray  # (r, in)
    b: np.ndarray  # (out, r)


@dataclass(frozen=True)
class _Peft:
    rank: int
    alpha: float  # as llama.cpp will apply it: alpha / r (rsLoRA folded in)
    pairs: list[_Pair]


def _read_config(folder: Path) -> dict[str, Any]:
    path = folder / CONFIG_NAME
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AdapterError(f"{folder} is not a PEFT adapter folder: it has no {CONFIG_NAME}."
                           ) from exc
    except (OSError, ValueError) as exc:
        raise AdapterError(f"{path} cannot be read as JSON: {exc}") from exc
    if not isinstance(config, dict) or config.get("peft_type", "LORA") != "LORA":
        raise AdapterError(f"{path} does not describe a LoRA adapter "
                           f"(peft_type {config.get('peft_type')!r}).")
    # Variants whose maths llama.cpp's plain `alpha / r * B @ A` does not reproduce.
    refused = {
        "use_dora": "DoRA", "fan_in_fan_out": "fan-in/fan-out (Conv1D) weights",
        "alpha_pattern": "per-module alpha", "modules_to_save": "fully trained extra modules",
    }
    for key, what in refused.items():
        if config.get(key):
            raise AdapterError(f"The adapter uses {what} ({key}), which llama.cpp's LoRA "
                               "adapters cannot express. Train it without that option.")
    if config.get("bias", "none") != "none":
        raise AdapterError("The adapter trains biases (bias != 'none'); llama.cpp's LoRA "
                           "adapters carry only the A and B matrices.")
    return config


def _load_safetensors(path: Path) -> dict[str, np.ndarray]:
    import numpy as np

    if not path.is_file():
        raise AdapterError(f"{path.parent} has no {path.name}: save the adapter with "
                           "PeftModel.save_pretrained (safetensors).")
    try:
        from safetensors.numpy import load_file

        tensors = load_file(str(path))
    except (TypeError, ValueError):  # bfloat16 has no numpy type: go through torch
        from safetensors.torch import load_file as load_torch

        tensors = {k: v.float().numpy() for k, v in load_torch(str(path)).items()}
    except Exception as exc:  # a damaged file: safetensors raises its own error type
        raise AdapterError(f"{path} cannot be read: {exc}") from exc
    return {k: np.asarray(v, dtype=np.float32) for k, v in tensors.items()}


def _read_peft(folder: Path) -> _Peft:
    folder = Path(folder)
    config = _read_config(folder)
    tensors = _load_safetensors(folder / WEIGHTS_NAME)
    halves: dict[tuple[int, str], dict[str, np.ndarray]] = {}
    for key, value in tensors.items():
        match = _PEFT_KEY.match(key)
        if match is None or match.group(2) not in MODULES:
            raise AdapterError(
                f"The adapter trains {key!r}; only the attention and MLP projections of the "
                f"transformer layers ({', '.join(MODULES)}) can go into a GGUF adapter.")
        layer, module, side = int(match.group(1)), match.group(2), match.group(3)
        halves.setdefault((layer, module), {})[side] = value
    pairs = []
    for (layer, module), sides in sorted(halves.items()):
        if set(sides) != {"A", "B"}:
            raise AdapterError(f"The adapter has only one half of layer {layer}'s {module}.")
        a, b = sides["A"], sides["B"]
        if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[1]:
            raise AdapterError(f"Layer {layer}'s {module} has A {a.shape} and B {b.shape}, "
                               "which do not multiply: the file is damaged.")
        pairs.append(_Pair(layer, module, a, b))
    if not pairs:
        raise AdapterError(f"{folder / WEIGHTS_NAME} holds no LoRA weights.")
    rank = int(config.get("r") or pairs[0].a.shape[0])
    alpha = float(config.get("lora_alpha", rank))
    if config.get("rank_pattern"):
        ranks = {p.a.shape[0] for p in pairs}
        if len(ranks) > 1 and config.get("use_rslora"):
            raise AdapterError("rsLoRA with per-module ranks cannot be written with the one "
                               "alpha a GGUF adapter has.")
    if config.get("use_rslora"):
        # PEFT scales by alpha / sqrt(r), llama.cpp by alpha / r: fold the difference in.
        alpha *= math.sqrt(pairs[0].a.shape[0])
    return _Peft(rank, alpha, pairs)


# -- the base model -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Base:
    arch: str
    n_layers: int
    n_head: int
    n_head_kv: int
    hidden: int
    shapes: dict[str, tuple[int, ...]]  # GGUF tensor name -> dims (GGUF order: in, out)


def _read_base(path: Path) -> _Base:
    from core.gguf.tensors import read_tensor_table

    table = read_tensor_table(path)
    meta = table.metadata
    arch = str(meta.get("general.architecture", ""))
    if arch not in ARCHITECTURES:
        raise AdapterError(f"{Path(path).name} is a {arch or 'unknown'!r} model; GGUF LoRA "
                           f"export supports {', '.join(ARCHITECTURES)} models.")
    n_head = int(meta.get(f"{arch}.attention.head_count", 0))
    return _Base(
        arch=arch,
        n_layers=int(meta.get(f"{arch}.block_count", 0)),
        n_head=n_head,
        n_head_kv=int(meta.get(f"{arch}.attention.head_count_kv", n_head)),
        hidden=int(meta.get(f"{arch}.embedding_length", 0)),
        shapes={name: entry.dims for name, entry in table.tensors.items()},
    )


def _check_fits(peft: _Peft, base: _Base, base_name: str) -> None:
    """Refuse an adapter made for another model before anything is written."""
    layers = max(p.layer for p in peft.pairs) + 1
    if layers > base.n_layers:
        raise AdapterError(f"The adapter adapts {layers} layers; {base_name} has "
                           f"{base.n_layers}. It was made for another base model.")
    for p in peft.pairs:
        name = f"blk.{p.layer}.{MODULES[p.module]}.weight"
        dims = base.shapes.get(name)
        if dims is None:
            raise AdapterError(f"{base_name} has no {name} for the adapter's layer {p.layer} "
                               f"{p.module}. It was made for another base model.")
        wanted = (p.a.shape[1], p.b.shape[0])  # (in, out): GGUF order
        if tuple(dims[:2]) != wanted:
            raise AdapterError(
                f"The adapter's layer {p.layer} {p.module} maps {wanted[0]} to {wanted[1]} "
                f"features; {base_name}'s maps {dims[0]} to {dims[1]} (hidden size "
                f"{base.hidden}). It was made for another base model.")


def _llama_rows(b: np.ndarray, heads: int) -> np.ndarray:
    """B's rows in the order llama.cpp's converter gives a llama Q or K projection: within each
    head, rows [0, d/2) and [d/2, d) (the two rotary halves) interleaved."""
    out, rank = b.shape
    half = out // heads // 2
    return b.reshape(heads, 2, half, rank).transpose(0, 2, 1, 3).reshape(out, rank)


def _gguf_tensors(peft: _Peft, base: _Base) -> list[tuple[str, np.ndarray]]:
    import numpy as np

    tensors = []
    permute = ARCHITECTURES[base.arch]
    for p in peft.pairs:
        b = p.b
        if permute and p.module == "q_proj":
            b = _llama_rows(b, base.n_head)
        elif permute and p.module == "k_proj":
            b = _llama_rows(b, base.n_head_kv)
        name = f"blk.{p.layer}.{MODULES[p.module]}.weight"
        tensors.append((f"{name}.lora_a", np.ascontiguousarray(p.a, dtype=np.float32)))
        tensors.append((f"{name}.lora_b", np.ascontiguousarray(b, dtype=np.float32)))
    return tensors


def write_gguf_lora(peft_dir: Path, base_gguf: Path, out_path: Path) -> Path:
    """Write the PEFT adapter in `peft_dir` as a GGUF LoRA adapter for `base_gguf` at
    `out_path` (replaced whole, never left half-written); returns `out_path`.

    Raises AdapterError for an adapter made for another base (layer count, module shapes),
    for modules or PEFT options llama.cpp cannot apply, and ModelLoadError for a bad base file.
    """
    import gguf

    out_path = Path(out_path)
    peft = _read_peft(Path(peft_dir))
    base = _read_base(Path(base_gguf))
    _check_fits(peft, base, Path(base_gguf).name)
    tensors = _gguf_tensors(peft, base)

    try:
        with atomic_path(out_path) as temp:
            writer = gguf.GGUFWriter(str(temp), base.arch)
            try:
                writer.add_type(gguf.GGUFType.ADAPTER)
                writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
                writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, peft.alpha)
                writer.add_name(f"{Path(peft_dir).name} (LoRA for {Path(base_gguf).name})")
                for name, data in tensors:
                    writer.add_tensor(name, data)
                writer.write_header_to_file()
                writer.write_kv_data_to_file()
                writer.write_tensors_to_file()
            finally:
                writer.close()
    except OSError as exc:
        raise AdapterError(f"Cannot write {out_path}: {exc.strerror or exc}") from exc
    return out_path


# -- anatomy ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerNorm:
    layer: int
    module: str  # PEFT name: q_proj, k_proj, ...
    norm: float  # Frobenius norm of (alpha / r) * B @ A: how far the adapter moves this weight


@dataclass(frozen=True)
class AdapterAnatomy:
    rank: int  # the largest rank over modules (PEFT's r)
    alpha: float  # as llama.cpp applies it (rsLoRA folded in)
    scale: float  # alpha / rank: what multiplies B @ A at scale 1
    modules: list[str]  # PEFT names, in MODULES order
    layers: int  # how many layers the adapter touches (highest index + 1)
    norms: list[LayerNorm]  # one per (layer, module)
    n_params: int


def _delta_norm(a: np.ndarray, b: np.ndarray) -> float:
    import numpy as np

    # ||B A||_F^2 = trace((B^T B)(A A^T)): r x r products instead of the out x in matrix.
    value = float(np.trace((b.T @ b) @ (a @ a.T)))
    return math.sqrt(max(value, 0.0))


def _read_gguf_adapter(path: Path) -> _Peft:
    import gguf

    try:
        reader = gguf.GGUFReader(str(path))
    except Exception as exc:  # gguf raises ValueError, struct.error, ...: a damaged file
        raise AdapterError(f"{path.name} cannot be read as a GGUF adapter: {exc}") from exc
    field = reader.get_field(gguf.Keys.General.TYPE)
    if field is None or field.contents() != "adapter":
        raise AdapterError(f"{path.name} is a GGUF file but not an adapter (general.type).")
    alpha_field = reader.get_field(gguf.Keys.Adapter.LORA_ALPHA)
    alpha = float(alpha_field.contents()) if alpha_field is not None else 0.0
    halves: dict[tuple[int, str], dict[str, np.ndarray]] = {}
    for tensor in reader.tensors:
        match = _GGUF_KEY.match(tensor.name)
        if match is None:
            continue  # norm vectors some tools add: not part of B @ A
        module = _GGUF_TO_PEFT.get(match.group(2), match.group(2))
        # numpy shapes are GGUF dims reversed: lora_a (r, in), lora_b (out, r), as in PEFT
        halves.setdefault((int(match.group(1)), module), {})[match.group(3)] = tensor.data
    pairs = [_Pair(layer, module, sides["a"], sides["b"])
             for (layer, module), sides in sorted(halves.items()) if set(sides) == {"a", "b"}]
    if not pairs:
        raise AdapterError(f"{path.name} holds no LoRA tensor pairs.")
    rank = max(p.a.shape[0] for p in pairs)
    # llama.cpp: no alpha means a scale of exactly 1 (alpha = r)
    return _Peft(rank, alpha or float(rank), pairs)


def adapter_anatomy(adapter: Path) -> AdapterAnatomy:
    """Rank, alpha, modules and the size of each layer's weight change (scaled B @ A) of a PEFT
    adapter folder or a GGUF adapter file: plain data for the anatomy view."""
    adapter = Path(adapter)
    try:
        peft = _read_peft(adapter) if adapter.is_dir() else _read_gguf_adapter(adapter)
    except GlassboxError:
        raise
    except OSError as exc:
        raise AdapterError(f"Cannot read the adapter {adapter}: {exc}") from exc
    norms = [LayerNorm(p.layer, p.module,
                       peft.alpha / p.a.shape[0] * _delta_norm(p.a, p.b)) for p in peft.pairs]
    present = {p.module for p in peft.pairs}
    return AdapterAnatomy(
        rank=peft.rank,
        alpha=peft.alpha,
        scale=peft.alpha / peft.rank,
        modules=[m for m in MODULES if m in present] + sorted(present - set(MODULES)),
        layers=max(p.layer for p in peft.pairs) + 1,
        norms=norms,
        n_params=sum(p.a.size + p.b.size for p in peft.pairs),
    )
