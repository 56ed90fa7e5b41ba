"""Hostile GGUF files, built from the real SmolLM2 header with raw bytes.

The header (metadata and tensor table) is parsed into plain entries, changed, and written
again; the weights region is left sparse (zeros, no disk used), so a file whose header still
looks right reaches llama.cpp with a realistic layout. Each maker returns the file's bytes
header and the total size to give it.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
           10: "<Q", 11: "<q", 12: "<d"}
STRING, ARRAY, UINT32, INT32, UINT64 = 8, 9, 4, 5, 10


@dataclass(frozen=True)
class KV:
    key: str
    vtype: int
    raw: bytes  # the value's bytes exactly as stored (for arrays: item type, count, items)


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dims: tuple[int, ...]
    ggml_type: int
    offset: int


@dataclass
class Header:
    version: int
    kvs: list[KV]
    tensors: list[TensorInfo]
    data_size: int  # bytes of the weights region in the original file
    alignment: int = 32
    n_tensors: int | None = None  # written instead of len(tensors) when set
    n_kv: int | None = None
    extra: bytes = field(default=b"")  # appended after the tensor table

    def kv(self, key: str) -> KV:
        return next(k for k in self.kvs if k.key == key)

    def with_kv(self, key: str, vtype: int, raw: bytes) -> Header:
        kvs = [KV(key, vtype, raw) if k.key == key else k for k in self.kvs]
        if not any(k.key == key for k in self.kvs):
            kvs.append(KV(key, vtype, raw))
        return replace(self, kvs=kvs)


def _string(text: str | bytes, length: int | None = None) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(data) if length is None else length) + data


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> int:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def skip_value(self, vtype: int) -> None:
        if vtype in _SCALAR:
            self.pos += struct.calcsize(_SCALAR[vtype])
        elif vtype == STRING:
            length = self.unpack("<Q")  # read before adding: unpack moves pos
            self.pos += length
        else:
            item, count = self.unpack("<I"), self.unpack("<Q")
            for _ in range(count):
                self.skip_value(item)


def read_header(path: Path, limit: int = 32 << 20) -> Header:
    with path.open("rb") as f:
        data = f.read(limit)
    total = path.stat().st_size
    c = _Cursor(data)
    assert c.take(4) == b"GGUF"
    version, n_tensors, n_kv = c.unpack("<I"), c.unpack("<Q"), c.unpack("<Q")
    kvs = []
    for _ in range(n_kv):
        key = c.take(c.unpack("<Q")).decode()
        vtype = c.unpack("<I")
        start = c.pos
        c.skip_value(vtype)
        kvs.append(KV(key, vtype, data[start:c.pos]))
    tensors = []
    for _ in range(n_tensors):
        name = c.take(c.unpack("<Q")).decode()
        dims = tuple(c.unpack("<Q") for _ in range(c.unpack("<I")))
        tensors.append(TensorInfo(name, dims, c.unpack("<I"), c.unpack("<Q")))
    header = Header(version, kvs, tensors, 0)
    align = header_alignment(header)
    data_start = -(-c.pos // align) * align
    return replace(header, data_size=total - data_start, alignment=align)


def header_alignment(header: Header) -> int:
    for k in header.kvs:
        if k.key == "general.alignment" and k.vtype == UINT32:
            return int(struct.unpack("<I", k.raw)[0]) or 32
    return 32


def serialize(header: Header) -> bytes:
    out = bytearray(b"GGUF")
    out += struct.pack("<I", header.version)
    out += struct.pack("<Q", len(header.tensors) if header.n_tensors is None else header.n_tensors)
    out += struct.pack("<Q", len(header.kvs) if header.n_kv is None else header.n_kv)
    for k in header.kvs:
        out += _string(k.key) + struct.pack("<I", k.vtype) + k.raw
    for t in header.tensors:
        out += _string(t.name) + struct.pack("<I", len(t.dims))
        out += b"".join(struct.pack("<Q", d) for d in t.dims)
        out += struct.pack("<I", t.ggml_type) + struct.pack("<Q", t.offset)
    out += header.extra
    return bytes(out)


def write(path: Path, header: Header, data_size: int | None = None) -> Path:
    """The header, padded to its alignment, then a sparse weights region."""
    body = serialize(header)
    align = max(1, header.alignment)
    padded = -(-len(body) // align) * align
    with path.open("wb") as f:
        f.write(body)
        f.truncate(padded + (header.data_size if data_size is None else data_size))
    return path


def u32(value: int) -> bytes:
    return struct.pack("<I", value)


def u64(value: int) -> bytes:
    return struct.pack("<Q", value)


def _arch(h: Header) -> str:
    return h.kv("general.architecture").raw[8:].decode()


def _set_tensor(h: Header, index: int, **changes: object) -> Header:
    tensors = list(h.tensors)
    tensors[index] = replace(tensors[index], **changes)  # type: ignore[arg-type]
    return replace(h, tensors=tensors)


# Named crafted headers: each is a way a real CVE-class file was built.
def crafted(h: Header) -> dict[str, Callable[[], Header]]:
    arch = _arch(h)
    n_tokens = struct.unpack("<Q", h.kv("tokenizer.ggml.tokens").raw[4:12])[0]
    return {
        "absurd tensor count": lambda: replace(h, n_tensors=2**63 - 1),
        "absurd key count": lambda: replace(h, n_kv=2**62),
        "tensor count one too many": lambda: replace(h, n_tensors=len(h.tensors) + 1),
        "huge key string length": lambda: replace(
            h, kvs=[KV("x", UINT32, u32(1))] + h.kvs, extra=b"",
        ).with_kv("general.name", STRING, _string(b"abc", 2**40)),
        "huge value string length": lambda: h.with_kv("general.name", STRING,
                                                      _string(b"x" * 16, 2**62)),
        "huge array count": lambda: h.with_kv("tokenizer.ggml.scores", ARRAY,
                                              u32(6) + u64(2**61)),
        "nested array bomb": lambda: h.with_kv("general.tags", ARRAY,
                                               (u32(ARRAY) + u64(2**20)) * 4 + u32(0) + u64(0)),
        "unknown value type": lambda: h.with_kv("general.name", 77, b"\0" * 8),
        "unknown array item type": lambda: h.with_kv("general.tags", ARRAY, u32(99) + u64(3)),
        "wrong array type for tokens": lambda: h.with_kv(
            "tokenizer.ggml.tokens", ARRAY, u32(INT32) + u64(n_tokens) + b"\0" * 4 * n_tokens),
        "wrong array type for scores": lambda: h.with_kv(
            "tokenizer.ggml.scores", ARRAY,
            u32(STRING) + u64(n_tokens) + _string("s") * n_tokens),
        "tokens count too small": lambda: h.with_kv(
            "tokenizer.ggml.tokens", ARRAY, u32(STRING) + u64(2) + _string("a") + _string("b")),
        "block_count beyond any model": lambda: h.with_kv(f"{arch}.block_count", UINT32,
                                                          u32(2**31 - 1)),
        "block_count of a million": lambda: h.with_kv(f"{arch}.block_count", UINT32,
                                                      u32(1_000_000)),
        "block_count zero": lambda: h.with_kv(f"{arch}.block_count", UINT32, u32(0)),
        "block_count above the tensors": lambda: h.with_kv(f"{arch}.block_count", UINT32,
                                                           u32(31)),
        "block_count as a string": lambda: h.with_kv(f"{arch}.block_count", STRING,
                                                     _string("30")),
        "zero heads": lambda: h.with_kv(f"{arch}.attention.head_count", UINT32, u32(0)),
        "zero kv heads": lambda: h.with_kv(f"{arch}.attention.head_count_kv", UINT32, u32(0)),
        "heads not dividing": lambda: h.with_kv(f"{arch}.attention.head_count_kv", UINT32,
                                                u32(7)),
        "zero embedding length": lambda: h.with_kv(f"{arch}.embedding_length", UINT32, u32(0)),
        "huge context length": lambda: h.with_kv(f"{arch}.context_length", UINT32,
                                                 u32(2**32 - 1)),
        "zero dimension": lambda: _set_tensor(h, 0, dims=(h.tensors[0].dims[0], 0)),
        "huge dimension": lambda: _set_tensor(h, 0, dims=(2**62, 2**62)),
        "too many dimensions": lambda: _set_tensor(h, 0, dims=(1,) * 100),
        "unknown tensor type": lambda: _set_tensor(h, 0, ggml_type=999),
        "misaligned tensor offset": lambda: _set_tensor(h, 1, offset=h.tensors[1].offset + 1),
        "tensor offset past the end": lambda: _set_tensor(h, 1, offset=2**60),
        "overlapping tensors": lambda: _set_tensor(h, 1, offset=h.tensors[0].offset),
        "duplicate tensor name": lambda: _set_tensor(h, 1, name=h.tensors[0].name),
        "shape not matching the model": lambda: _set_tensor(h, 0, dims=tuple(
            d + 32 for d in h.tensors[0].dims)),
        "alignment zero": lambda: h.with_kv("general.alignment", UINT32, u32(0)),
        "alignment not a power of two": lambda: h.with_kv("general.alignment", UINT32, u32(3)),
        "unknown architecture": lambda: h.with_kv("general.architecture", STRING,
                                                  _string("evilarch")),
        "version 1": lambda: replace(h, version=1),
        "version 99": lambda: replace(h, version=99),
        "bad token id": lambda: h.with_kv("tokenizer.ggml.bos_token_id", UINT32, u32(2**31)),
        "hostile chat template": lambda: h.with_kv(
            "tokenizer.chat_template", STRING,
            _string("{% for a in range(99999) %}{% for b in range(99999) %}x{% endfor %}"
                    "{% endfor %}")),
    }


def plain_files(rng: random.Random) -> dict[str, bytes]:
    """Files that are not GGUF at all."""
    return {
        "zero-length": b"",
        "wrong magic": b"GGML" + rng.randbytes(4096),
        "random bytes": rng.randbytes(rng.randint(1, 1 << 16)),
        "magic only": b"GGUF",
        "text file": b"this is not a model\n" * 100,
    }


def mutate_bytes(body: bytes, rng: random.Random) -> bytes:
    """Random damage to a header: flipped bytes, extreme integers, cut or duplicated spans."""
    data = bytearray(body)
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(4, len(data) - 8)
        choice = rng.random()
        if choice < 0.4:
            data[at] ^= 1 << rng.randrange(8)
        elif choice < 0.7:
            value = rng.choice([0, 1, 2**31 - 1, 2**32 - 1, 2**63 - 1, 2**64 - 1, 2**40])
            data[at:at + 8] = struct.pack("<Q", value)
        elif choice < 0.85:
            end = min(len(data), at + rng.randint(1, 64))
            del data[at:end]
        else:
            end = min(len(data), at + rng.randint(1, 64))
            data[at:at] = data[at:end]
    return bytes(data)
