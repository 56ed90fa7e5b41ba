"""A GGUF model's anatomy: metadata, architecture, tensor table, and weight histograms.

Reads the file alone (header plus memory-mapped tensor data), no llama.cpp, so it works for
any GGUF, loaded or not. numpy and gguf are imported on use, never at app start.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from core.errors import GlassboxError
from core.gguf.anatomy_types import AnatomyView, ArchitectureSummary, TensorInfo, WeightHistogram
from core.gguf.reader import read_header

# Values per histogram chunk: 4M float32 is 16 MB, whatever the tensor's size.
_CHUNK_VALUES = 1 << 22
_ARRAY_SUMMARY = re.compile(r"^<array of (\d+)>$")


def _type_name(ggml_type: int) -> str:
    from gguf.constants import GGMLQuantizationType

    try:
        return GGMLQuantizationType(ggml_type).name
    except ValueError:
        return f"type {ggml_type}"


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return max(value)  # per-layer values: the largest
    return None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None


def _count(value: Any) -> int | None:
    if isinstance(value, list):
        return len(value)
    found = _ARRAY_SUMMARY.match(str(value)) if value is not None else None
    return int(found.group(1)) if found else None


def summarise(metadata: dict[str, Any], tensors: dict[str, Any]) -> ArchitectureSummary:
    """The architecture facts a person looks for first, from the GGUF keys."""
    arch = str(metadata.get("general.architecture") or "unknown")

    def key(name: str) -> Any:
        return metadata.get(f"{arch}.{name}")

    n_head = _int(key("attention.head_count"))
    n_embd = _int(key("embedding_length"))
    embd = tensors.get("token_embd.weight")
    vocab = _int(key("vocab_size")) or _count(metadata.get("tokenizer.ggml.tokens")) \
        or (int(embd.dims[1]) if embd is not None and len(embd.dims) > 1 else None)
    head_dim = _int(key("attention.key_length")) or (
        n_embd // n_head if n_embd and n_head else None)
    scaling = key("rope.scaling.type")
    return ArchitectureSummary(
        architecture=arch,
        n_layer=_int(key("block_count")),
        n_head=n_head,
        n_head_kv=_int(key("attention.head_count_kv")) or n_head,
        n_embd=n_embd,
        head_dim=head_dim,
        n_ff=_int(key("feed_forward_length")),
        context_length=_int(key("context_length")),
        vocab_size=vocab,
        rope_freq_base=_float(key("rope.freq_base")),
        rope_dimension_count=_int(key("rope.dimension_count")),
        rope_scaling=str(scaling) if scaling and scaling != "none" else None,
        rope_scaling_factor=_float(key("rope.scaling.factor")),
        norm_eps=_float(key("attention.layer_norm_rms_epsilon"))
        or _float(key("attention.layer_norm_epsilon")),
        tied_embeddings="output.weight" not in tensors,
    )


def read_anatomy(path: str | Path) -> AnatomyView:
    """Metadata, architecture summary and tensor table of the GGUF at `path`.

    Raises ModelLoadError for a file that is not a complete GGUF model.
    """
    from core.gguf.tensors import read_tensor_table

    header = read_header(path)  # vets version and length with a clear message first
    table = read_tensor_table(path)
    tensors = [
        TensorInfo(e.name, tuple(reversed(e.dims)), _type_name(e.ggml_type), e.n_elements,
                   e.n_bytes)
        for e in table.tensors.values()
    ]
    return AnatomyView(
        path=str(path), file_size=header.actual_size, parameter_count=header.parameter_count,
        metadata=table.metadata, summary=summarise(table.metadata, table.tensors),
        tensors=tensors)


def weight_histogram(path: str | Path, tensor: str, bins: int = 64) -> WeightHistogram:
    """Histogram of one tensor's dequantized weights, read in chunks of rows (bounded memory).

    Two passes over the memory-mapped data: range and moments, then counts on fixed edges.
    """
    import numpy as np

    from core.gguf.tensors import dequantize_rows, read_tensor_table

    if not 1 <= bins <= 10_000:
        raise GlassboxError(f"A histogram needs 1 to 10,000 bins, not {bins}.")
    table = read_tensor_table(path)
    entry = table.tensors.get(tensor)
    if entry is None:
        raise GlassboxError(f"{Path(path).name} has no tensor named {tensor!r}; "
                            "`glassbox inspect anatomy` lists them.")
    n_rows = entry.n_elements // entry.dims[0]
    step = max(1, _CHUNK_VALUES // entry.dims[0])

    def chunks() -> Any:
        for start in range(0, n_rows, step):
            yield dequantize_rows(table, tensor, start, start + step).reshape(-1)

    low, high, total, squares = np.inf, -np.inf, 0.0, 0.0
    for values in chunks():
        low, high = min(low, float(values.min())), max(high, float(values.max()))
        total += float(values.sum(dtype=np.float64))
        squares += float(np.square(values, dtype=np.float64).sum())
    n = entry.n_elements
    edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    counts = np.zeros(bins, dtype=np.int64)
    for values in chunks():
        counts += np.histogram(values, bins=edges)[0]
    mean = total / n
    return WeightHistogram(tensor=tensor, type_name=_type_name(entry.ggml_type), counts=counts,
                           edges=edges, n_values=n, minimum=low, maximum=high, mean=mean,
                           std=max(squares / n - mean * mean, 0.0) ** 0.5)
