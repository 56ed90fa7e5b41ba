"""A GGUF file's tensor table and its weights, read straight from the file (memory-mapped).

`gguf.GGUFReader` parses every metadata array item into Python objects (about 4 s for a 49k
token vocabulary on a busy 2-core machine); the header reader of `reader` summarises long
arrays and takes about 0.1 s, so the table is built on it and only the tensors asked for are
touched. numpy and gguf are imported inside the functions: this module is never on the GUI
start path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ModelLoadError
from core.gguf.reader import _DEFAULT_ALIGNMENT, _MAGIC, _Reader, _tensor_nbytes

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dims: tuple[int, ...]  # GGUF order: the row length first (numpy shape is this reversed)
    ggml_type: int
    offset: int  # from the start of the file
    n_bytes: int

    @property
    def n_elements(self) -> int:
        return math.prod(self.dims)


@dataclass(frozen=True)
class TensorTable:
    path: str
    metadata: dict[str, Any]  # arrays over 64 items are summarised as "<array of N>"
    tensors: dict[str, TensorEntry]


def read_tensor_table(path: str | Path) -> TensorTable:
    """Metadata and tensor table of a GGUF file; raise ModelLoadError if it is not one."""
    path = Path(path)
    try:
        f = path.open("rb")
    except OSError as exc:
        raise ModelLoadError(f"Cannot open the model file {path}: {exc}") from exc
    with f:
        if f.read(4) != _MAGIC:
            raise ModelLoadError(f"{path.name} is not a GGUF model file.")
        r = _Reader(f, path)
        r.unpack("<I")  # version: read_header has already vetted it where it matters
        n_tensors, n_kv = r.unpack("<Q"), r.unpack("<Q")
        metadata = {r.string(): r.value(r.unpack("<I")) for _ in range(n_kv)}
        raw = []
        for _ in range(n_tensors):
            name = r.string()
            dims = tuple(r.unpack("<Q") for _ in range(r.unpack("<I")))
            raw.append((name, dims, r.unpack("<I"), r.unpack("<Q")))
        align = int(metadata.get("general.alignment", _DEFAULT_ALIGNMENT)) or _DEFAULT_ALIGNMENT
        data_start = -(-r.tell() // align) * align
    size = path.stat().st_size
    tensors = {}
    for name, dims, ggml_type, offset in raw:
        n_bytes = _tensor_nbytes(list(dims), ggml_type, path)
        if data_start + offset + n_bytes > size:
            raise ModelLoadError(f"{path.name} is truncated: tensor {name} ends past the file.")
        tensors[name] = TensorEntry(name, dims, ggml_type, data_start + offset, n_bytes)
    return TensorTable(str(path), metadata, tensors)


def _rows_view(path: str, entry: TensorEntry) -> np.ndarray:
    """The tensor's bytes as a read-only memory map, one numpy row per GGUF row."""
    import numpy as np

    rows = entry.n_elements // entry.dims[0] if entry.dims else 1
    mapped = np.memmap(path, dtype=np.uint8, mode="r", offset=entry.offset,
                       shape=(entry.n_bytes,))
    return mapped.reshape(rows, entry.n_bytes // rows)


def dequantize_rows(table: TensorTable, name: str, start: int = 0,
                    stop: int | None = None) -> np.ndarray:
    """Rows [start, stop) of tensor `name` as float32, shape (rows, row length).

    Reading a slice keeps memory bounded for large tensors (histograms walk them in chunks).
    """
    import numpy as np
    from gguf.constants import GGMLQuantizationType
    from gguf.quants import dequantize

    entry = table.tensors.get(name)
    if entry is None:
        raise ModelLoadError(f"{Path(table.path).name} has no tensor named {name!r}.")
    rows = _rows_view(table.path, entry)[start:stop]
    qtype = GGMLQuantizationType(entry.ggml_type)
    if qtype == GGMLQuantizationType.F32:
        values = rows.view(np.float32)
    elif qtype == GGMLQuantizationType.F16:
        values = rows.view(np.float16)
    else:
        values = dequantize(np.asarray(rows), qtype)
    return np.asarray(values, dtype=np.float32).reshape(len(rows), entry.dims[0])


def dequantize_tensor(table: TensorTable, name: str) -> np.ndarray:
    """The whole tensor as float32 in numpy order (GGUF dims reversed)."""
    values = dequantize_rows(table, name)
    return values.reshape(tuple(reversed(table.tensors[name].dims)))
