"""What a GGUF file says about its model: the facts the library shows and the fit estimate uses.

Built on `read_header`, which parses the header only (milliseconds, no weights read), so a bad
file is refused with a clear message before llama.cpp, which may abort on it, ever sees it.
The `gguf` package (and numpy with it) is imported on first use, not when the app starts.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.errors import ModelImportError, ModelLoadError

# `general.file_type` numbers -> the names people and file names use (llama.cpp's LLAMA_FTYPE).
_FILE_TYPE_PREFIX = ("MOSTLY_", "ALL_")
# A quantization name as it appears inside hub file names ("...-Q4_K_M.gguf", ".q8_0.gguf").
QUANT_PATTERN = re.compile(
    r"(?<![A-Za-z0-9])(I?Q\d(?:_[A-Z0-9]+)*|F16|F32|BF16|FP16|TQ\d_\d|MXFP4(?:_MOE)?)"
    r"(?![A-Za-z0-9])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ModelFacts:
    """Plain facts about one GGUF model, read from its header."""

    architecture: str
    parameter_count: int
    quantization: str  # "Q4_K_M", "Q8_0", ... or "unknown"
    file_size: int
    context_length: int | None  # what the model was trained for, not what we run it at
    license: str | None
    has_chat_template: bool
    display_name: str | None
    # For the KV-cache estimate; None where the header does not say.
    n_layer: int | None
    n_head_kv: int | None
    key_length: int | None
    value_length: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelFacts:
        known: dict[str, Any] = {k: data.get(k) for k in cls.__dataclass_fields__}
        return cls(**known)


def quantization_from_name(filename: str) -> str | None:
    """The quantization a hub file name announces ("x-Q4_K_M.gguf" -> "Q4_K_M"), if any."""
    stem = filename.rsplit("/", 1)[-1]
    matches = QUANT_PATTERN.findall(stem)
    if not matches:
        return None
    name = matches[-1].upper()  # the last match: model names may carry their own "Q2"-ish parts
    return "F16" if name == "FP16" else name


def _file_type_name(value: Any) -> str | None:
    from gguf.constants import LlamaFileType  # the gguf package imports numpy: load on use

    try:
        name = LlamaFileType(int(value)).name
    except (TypeError, ValueError):
        return None
    for prefix in _FILE_TYPE_PREFIX:
        if name.startswith(prefix):
            return name[len(prefix):]
    return None if name == "GUESSED" else name


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        # Per-layer values (some architectures vary KV heads by layer): the largest is the
        # safe figure for a memory estimate.
        return max(value)
    return None


def facts_from_header(path: Path, metadata: dict[str, Any], parameter_count: int,
                      file_size: int) -> ModelFacts:
    arch = str(metadata.get("general.architecture") or "unknown")

    def key(name: str) -> Any:
        return metadata.get(f"{arch}.{name}")

    n_head = _int(key("attention.head_count"))
    n_head_kv = _int(key("attention.head_count_kv")) or n_head
    embedding = _int(key("embedding_length"))
    head_dim = embedding // n_head if embedding and n_head else None
    quant = _file_type_name(metadata.get("general.file_type")) \
        or quantization_from_name(path.name) or "unknown"
    licence = metadata.get("general.license")
    return ModelFacts(
        architecture=arch,
        parameter_count=parameter_count,
        quantization=quant,
        file_size=file_size,
        context_length=_int(key("context_length")),
        license=str(licence) if licence else None,
        has_chat_template=bool(metadata.get("tokenizer.chat_template")),
        display_name=str(metadata["general.name"]) if metadata.get("general.name") else None,
        n_layer=_int(key("block_count")),
        n_head_kv=n_head_kv,
        key_length=_int(key("attention.key_length")) or head_dim,
        value_length=_int(key("attention.value_length")) or head_dim,
    )


def read_facts(path: str | Path) -> ModelFacts:
    """Check that `path` is a usable GGUF model and return its facts.

    Raises ModelImportError with a message a person can act on: missing, not GGUF, unknown
    version, truncated (declared tensor sizes beyond the file's length), or no tensors at all.
    """
    from core.gguf.reader import read_header

    path = Path(path)
    try:
        header = read_header(path)
    except ModelLoadError as exc:
        raise ModelImportError(str(exc)) from exc
    if header.tensor_count == 0:
        raise ModelImportError(
            f"{path.name} holds no weights (it may be a vocabulary-only file), so it cannot "
            "answer. Choose the full model file."
        )
    return facts_from_header(path, header.metadata, header.parameter_count, header.actual_size)


def format_parameters(count: int) -> str:
    """135M, 1.5B: how model cards write sizes."""
    if count >= 1_000_000_000:
        return f"{count / 1e9:.1f}B"
    if count >= 1_000_000:
        return f"{count / 1e6:.0f}M"
    return f"{count / 1e3:.0f}K" if count >= 1000 else str(count)


def format_bytes(n: int | float | None) -> str:
    if n is None:
        return "unknown"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"
