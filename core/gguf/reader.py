"""A quick look at a GGUF file's header, before llama.cpp (which may abort) ever sees it.

Reads the metadata keys and the tensor table without touching the weights, so a file that is
not GGUF, is truncated, or is from an unknown version gets a clear message in milliseconds.
Crafted headers (absurd counts, huge strings, zero or too many dimensions, overlapping
tensors, a layer count no model has) are refused here too: llama.cpp has crashed or
allocated without bound on such files, and a count is checked against the bytes the file has
left before anything is read or allocated for it.
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, field
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
_UINT32, _INT32, _FLOAT32 = 4, 5, 6
# Arrays longer than this (token lists) are summarised as their length to keep reads fast.
_ARRAY_KEEP = 64
_MAX_DIMS = 4  # GGML_MAX_DIMS
_MAX_LAYERS = 4096  # the deepest real models have a few hundred
_MIN_KV_BYTES = 8 + 4 + 1  # key length, value type, the smallest value
_MIN_TENSOR_BYTES = 8 + 4 + 8 + 4 + 8  # name length, n_dims, one dim, type, offset
# The tokenizer arrays llama.cpp indexes without checking their element type.
_TOKENIZER_ARRAYS = {"tokenizer.ggml.tokens": _STRING, "tokenizer.ggml.merges": _STRING,
                     "tokenizer.ggml.scores": _FLOAT32, "tokenizer.ggml.token_type": _INT32}
_BLOCK_TENSOR = re.compile(r"^blk\.(\d+)\.")


@dataclass(frozen=True)
class GGUFHeader:
    version: int
    tensor_count: int
    metadata: dict[str, Any]
    expected_size: int  # bytes the file must have to hold every tensor the header lists
    actual_size: int
    parameter_count: int = 0  # elements over all tensors: the model's size in parameters
    # key -> (item type, count) for every array, including the ones summarised in metadata
    arrays: dict[str, tuple[int, int]] = field(default_factory=dict)


def _mb(n: int) -> str:
    return f"{n / 1_000_000:,.1f} MB"


class _Reader:
    def __init__(self, f: BinaryIO, path: Path, size: int | None = None) -> None:
        self._f, self._path = f, path
        self._size = path.stat().st_size if size is None else size
        self.arrays: dict[str, tuple[int, int]] = {}

    def corrupt(self, what: str) -> ModelLoadError:
        return ModelLoadError(f"{self._path.name} has a corrupt header ({what}). The file is "
                              "damaged or was not made by a GGUF tool; get it again.")

    def cut_or_corrupt(self, what: str) -> ModelLoadError:
        # A count or length past the end of the file: a cut download, or a crafted header.
        return ModelLoadError(f"{self._path.name} is truncated or has a corrupt header "
                              f"({what}). Get the file again.")

    def left(self) -> int:
        return self._size - self._f.tell()

    def exact(self, n: int) -> bytes:
        data = self._f.read(n)
        if len(data) != n:
            raise ModelLoadError(f"{self._path.name} is truncated: its header ends early.")
        return data

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.exact(struct.calcsize(fmt)))[0]

    def count(self, what: str, n: int, min_bytes: int) -> int:
        """A count read from the file, refused when its items cannot fit in what is left."""
        if n * min_bytes > self.left():
            raise self.cut_or_corrupt(f"it claims {n:,} {what}, more than the file can hold")
        return n

    def string(self) -> str:
        n = self.unpack("<Q")
        if n > self.left():
            raise self.cut_or_corrupt(f"a {n:,}-byte string with {self.left():,} bytes left")
        return self.exact(n).decode("utf-8", errors="replace")

    def value(self, vtype: int, key: str = "") -> Any:
        if vtype in _SCALAR_FORMATS:
            return self.unpack(_SCALAR_FORMATS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            return self.array(key)
        raise self.corrupt(f"value type {vtype}")

    def array(self, key: str) -> Any:
        item_type = self.unpack("<I")
        if item_type == _ARRAY:
            raise self.corrupt(f"{key or 'a key'} holds arrays of arrays")
        if item_type != _STRING and item_type not in _SCALAR_FORMATS:
            raise self.corrupt(f"{key or 'an array'} has items of unknown type {item_type}")
        size = struct.calcsize(_SCALAR_FORMATS[item_type]) if item_type != _STRING else 8
        n = self.count(f"items in {key or 'an array'}", self.unpack("<Q"), size)
        self.arrays[key] = (item_type, n)
        if item_type == _STRING:
            items: list[Any] = [self.string() for _ in range(n)]
        else:  # one read for the whole array: token scores run to 100k+ floats
            fmt = _SCALAR_FORMATS[item_type]
            items = list(struct.unpack(f"<{n}{fmt[1]}", self.exact(n * size)))
        return items if n <= _ARRAY_KEEP else f"<array of {n}>"

    def tell(self) -> int:
        return self._f.tell()


@dataclass(frozen=True)
class _Tensor:
    name: str
    dims: list[int]
    ggml_type: int
    offset: int


def _tensor_nbytes(dims: list[int], ggml_type: int, path: Path, name: str = "") -> int:
    """Bytes of one tensor's data, from its shape and quantization block size."""
    try:
        block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
    except (ValueError, KeyError) as exc:
        raise ModelLoadError(
            f"{path.name} uses tensor type {ggml_type}, which this version of Glassbox "
            "does not know. It may need a newer llama.cpp."
        ) from exc
    if dims and dims[0] % block:
        raise ModelLoadError(f"{path.name} has a corrupt header (tensor {name!r} has "
                             f"{dims[0]} columns, not a whole number of blocks).")
    return math.prod(dims) * type_size // block


def _read_tensor(r: _Reader) -> _Tensor:
    name = r.string()
    n_dims = r.unpack("<I")
    if not 1 <= n_dims <= _MAX_DIMS:
        raise r.corrupt(f"tensor {name!r} has {n_dims} dimensions; at most {_MAX_DIMS} exist")
    dims = [r.unpack("<Q") for _ in range(n_dims)]
    if 0 in dims:
        raise r.corrupt(f"tensor {name!r} has a zero dimension {dims}")
    if math.prod(dims) >= 2**62:
        raise r.corrupt(f"tensor {name!r} has an impossible shape {dims}")
    return _Tensor(name, dims, r.unpack("<I"), r.unpack("<Q"))


def _check_layout(tensors: list[_Tensor], align: int, path: Path, r: _Reader) -> int:
    """Names unique, offsets aligned, no two tensors sharing bytes; returns the data's end."""
    seen: set[str] = set()
    spans = []
    for t in tensors:
        if t.name in seen:
            raise r.corrupt(f"two tensors are named {t.name!r}")
        seen.add(t.name)
        if t.offset % align:
            raise r.corrupt(f"tensor {t.name!r} starts at {t.offset}, not on a {align}-byte "
                            "boundary")
        spans.append((t.offset, t.offset + _tensor_nbytes(t.dims, t.ggml_type, path, t.name),
                      t.name))
    spans.sort()
    for (_, end, name), (start, _, following) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise r.corrupt(f"tensors {name!r} and {following!r} overlap")
    return max((end for _, end, _ in spans), default=0)


def _alignment(metadata: dict[str, Any], r: _Reader) -> int:
    align = metadata.get("general.alignment", _DEFAULT_ALIGNMENT)
    if not isinstance(align, int) or isinstance(align, bool) or align <= 0 or \
            align & (align - 1):
        raise r.corrupt(f"general.alignment is {align!r}, not a power of two")
    return align


def _check_model_fields(metadata: dict[str, Any], arrays: dict[str, tuple[int, int]],
                        tensors: list[_Tensor], r: _Reader) -> None:
    """Fields llama.cpp trusts: a wrong one has aborted it or sized arrays from it."""
    for key, item_type in _TOKENIZER_ARRAYS.items():
        if key in metadata and (key not in arrays or arrays[key][0] != item_type):
            raise r.corrupt(f"{key} is not an array of the type llama.cpp expects")
    n_tokens = arrays.get("tokenizer.ggml.tokens", (0, 0))[1]
    for key in ("tokenizer.ggml.scores", "tokenizer.ggml.token_type"):
        if key in arrays and arrays[key][1] != n_tokens:
            raise r.corrupt(f"{key} has {arrays[key][1]:,} entries for {n_tokens:,} tokens")
    for key, value in metadata.items():
        if n_tokens and key.startswith("tokenizer.ggml.") and key.endswith("_token_id") and \
                isinstance(value, int) and not -1 <= value < n_tokens:
            raise r.corrupt(f"{key} is {value}, outside the {n_tokens:,}-token vocabulary")
    arch = metadata.get("general.architecture")
    if arch is None:
        return
    if not isinstance(arch, str):
        raise r.corrupt("general.architecture is not a name")
    for name in ("context_length", "embedding_length"):
        value = metadata.get(f"{arch}.{name}")
        # llama.cpp keeps these in int32: a larger value wraps to a negative size
        if isinstance(value, int) and not 0 <= value < 2**31:
            raise r.corrupt(f"{arch}.{name} is {value:,}, beyond what llama.cpp can hold")
    key = f"{arch}.block_count"
    if key not in metadata:
        return
    layers = metadata[key]
    if not isinstance(layers, int) or isinstance(layers, bool) or \
            not 1 <= layers <= _MAX_LAYERS:
        raise r.corrupt(f"{key} is {layers!r}; a model has between 1 and {_MAX_LAYERS} layers")
    indices = [int(m.group(1)) for t in tensors if (m := _BLOCK_TENSOR.match(t.name))]
    if indices and layers > max(indices) + 1:
        raise r.corrupt(f"{key} says {layers} layers but the file holds weights for "
                        f"{max(indices) + 1}")


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
        r = _Reader(f, path, actual)
        version = r.unpack("<I")
        if version not in _SUPPORTED_VERSIONS:
            raise ModelLoadError(f"{path.name} is GGUF version {version}; 2 and 3 are supported.")
        n_tensors = r.unpack("<Q")
        n_kv = r.count("metadata keys", r.unpack("<Q"), _MIN_KV_BYTES)
        metadata: dict[str, Any] = {}
        for _ in range(n_kv):
            key = r.string()
            metadata[key] = r.value(r.unpack("<I"), key)
        r.count("tensors", n_tensors, _MIN_TENSOR_BYTES)
        tensors = [_read_tensor(r) for _ in range(n_tensors)]
        align = _alignment(metadata, r)
        data_end = _check_layout(tensors, align, path, r)
        _check_model_fields(metadata, r.arrays, tensors, r)
        data_start = -(-r.tell() // align) * align
    expected = data_start + data_end
    if actual < expected:
        raise ModelLoadError(
            f"{path.name} is truncated: expected {_mb(expected)}, found {_mb(actual)}. "
            "The download or copy probably stopped early; get the file again."
        )
    parameters = sum(math.prod(t.dims) for t in tensors)
    return GGUFHeader(version, n_tensors, metadata, expected, actual, parameters, r.arrays)
