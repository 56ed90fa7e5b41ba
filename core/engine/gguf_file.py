"""A quick look at a GGUF file's header, before llama.cpp (which may abort) ever sees it.

Reads the metadata keys and the tensor table without touching the weights, so a file that is
not GGUF, is truncated, or is from an unknown version gets a clear message in milliseconds.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

from core.errors import ModelLoadError

_MAGIC = b"GGUF"
_SUPPORTED_VERSIONS = (2, 3)
_DEFAULT_ALIGNMENT = 32
# GGUF value types -> struct format for the fixed-size ones (8 = string, 9 = array).
_SCALAR_FORMATS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
                   10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
# Arrays longer than this (token lists) are summarised as their length to keep reads fast.
_ARRAY_KEEP = 64


@dataclass(frozen=True)
class GGUFHeader:
    version: int
    tensor_count: int
    metadata: dict[str, Any]
    expected_size: int  # bytes the file must have to hold every tensor the header lists
    actual_size: int
    parameter_count: int = 0  # elements over all tensors: the model's size in parameters


def _mb(n: int) -> str:
    return f"{n / 1_000_000:,.1f} MB"


class _Reader:
    def __init__(self, f: BinaryIO, path: Path) -> None:
        self._f, self._path = f, path

    def exact(self, n: int) -> bytes:
        data = self._f.read(n)
        if len(data) != n:
            raise ModelLoadError(f"{self._path.name} is truncated: its header ends early.")
        return data

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.exact(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        n = self.unpack("<Q")
        if n > 1 << 30:
            raise ModelLoadError(f"{self._path.name} has a corrupt header (a {n}-byte string).")
        return self.exact(n).decode("utf-8", errors="replace")

    def value(self, vtype: int) -> Any:
        if vtype in _SCALAR_FORMATS:
            return self.unpack(_SCALAR_FORMATS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            item_type, count = self.unpack("<I"), self.unpack("<Q")
            items = [self.value(item_type) for _ in range(count)]
            return items if count <= _ARRAY_KEEP else f"<array of {count}>"
        raise ModelLoadError(f"{self._path.name} has a corrupt header (value type {vtype}).")

    def tell(self) -> int:
        return self._f.tell()


def _tensor_nbytes(dims: list[int], ggml_type: int, path: Path) -> int:
    """Bytes of one tensor's data, from its shape and quantization block size."""
    try:
        block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
    except (ValueError, KeyError) as exc:
        raise ModelLoadError(
            f"{path.name} uses tensor type {ggml_type}, which this version of Glassbox "
            "does not know. It may need a newer llama.cpp."
        ) from exc
    count = 1
    for d in dims:
        count *= d
    return count * type_size // block


def read_header(path: str | Path) -> GGUFHeader:
    """Parse and sanity-check a GGUF header; raise ModelLoadError saying what is wrong."""
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"Model file not found: {path}")
    if not path.is_file():
        raise ModelLoadError(f"Not a model file (it is a folder or device): {path}")
    actual = path.stat().st_size
    if actual == 0:
        raise ModelLoadError(f"{path.name} is empty (0 bytes).")
    with path.open("rb") as f:
        if f.read(4) != _MAGIC:
            raise ModelLoadError(f"{path.name} is not a GGUF model file.")
        r = _Reader(f, path)
        version = r.unpack("<I")
        if version not in _SUPPORTED_VERSIONS:
            raise ModelLoadError(f"{path.name} is GGUF version {version}; 2 and 3 are supported.")
        n_tensors, n_kv = r.unpack("<Q"), r.unpack("<Q")
        metadata = {r.string(): r.value(r.unpack("<I")) for _ in range(n_kv)}
        data_end = parameters = 0
        for _ in range(n_tensors):
            r.string()
            dims = [r.unpack("<Q") for _ in range(r.unpack("<I"))]
            ggml_type, offset = r.unpack("<I"), r.unpack("<Q")
            data_end = max(data_end, offset + _tensor_nbytes(dims, ggml_type, path))
            parameters += math.prod(dims)
        align = int(metadata.get("general.alignment", _DEFAULT_ALIGNMENT)) or _DEFAULT_ALIGNMENT
        data_start = -(-r.tell() // align) * align
    expected = data_start + data_end
    if actual < expected:
        raise ModelLoadError(
            f"{path.name} is truncated: expected {_mb(expected)}, found {_mb(actual)}. "
            "The download or copy probably stopped early; get the file again."
        )
    return GGUFHeader(version, n_tensors, metadata, expected, actual, parameters)
