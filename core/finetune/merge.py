"""A LoRA adapter folded into its base model: one full GGUF that needs no adapter at run time.

For each weight `W` the adapter changes, the merged file holds `W + scale * alpha / r * B @ A`
in llama.cpp's layout. The adapter GGUF is already in llama.cpp's row order (the exporter
reorders Q/K rows of lora_b, see gguf_lora), and the base's numpy view is `(out, in)` like
`B @ A`, so the sum needs no permutation here. Every other tensor's bytes and all metadata
are copied unchanged; changed tensors are written as F16 (half the size of F32, and what
llama.cpp's own converter writes) or F32 (exact: what the fidelity tests compare with).

`dequantize_gguf` is the same rewrite with every matrix changed to a float type: an
unquantized copy on which llama.cpp's matrix products do not round activations to 8 bits
(tests/finetune_gguf measure the engines against each other on it).

Tensors are written one at a time, dequantized as they go (the F32 copy of a 135M model is
540 MB: it never sits in memory whole), into a temporary file renamed over the target only
once complete. Reading the metadata with `gguf.GGUFReader` parses the whole vocabulary (a few
seconds); that is small beside the tensors.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.atomic import atomic_path
from core.errors import AdapterError, Cancelled, GlassboxError, ModelLoadError
from core.models.lab_child import CancelToken, Progress

if TYPE_CHECKING:
    import gguf
    import numpy as np

__all__ = ["FLOAT_TYPES", "dequantize_gguf", "merge_adapter"]

FLOAT_TYPES = ("F16", "F32")
# llama.cpp's `general.file_type` values (enum llama_ftype) for an all-float file.
_FILE_TYPE = {"F32": 0, "F16": 1}
# Keys GGUFReader reports that describe the file itself, not the model; the writer makes its
# own (and adds general.architecture itself).
_OWN_KEYS = ("GGUF.", "general.architecture", "general.alignment")

# Which tensors a rewrite changes (name, number of dims), and their new float32 values in
# numpy order (out, in) from the dequantized old ones.
_Picks = Callable[[str, int], bool]
_Values = Callable[[str, "np.ndarray"], "np.ndarray"]


def merge_adapter(base_gguf: str | Path, adapter_gguf: str | Path, out_path: str | Path,
                  scale: float = 1.0, quant_type: str | None = None,
                  progress: Progress | None = None, cancel: CancelToken | None = None, *,
                  float_type: str = "F16") -> Path:
    """Write `base_gguf` with the GGUF LoRA adapter `adapter_gguf` folded in at `scale` to
    `out_path` (replaced whole, never left half-written); returns `out_path`.

    Changed weights are written as `float_type` (F16 or F32), the rest copied as they are.
    With `quant_type` (a llama.cpp type such as Q4_K_M) the merged file is then quantized by
    llama.cpp in a child process, so every weight ends up in that type. Raises AdapterError
    for an adapter that is not one or was made for another base, ModelLoadError for a bad
    base, QuantizeError when llama.cpp cannot quantize, Cancelled when `cancel` is set.
    """
    import numpy as np

    from core.finetune.gguf_lora import MODULES, _read_gguf_adapter
    from core.models.adapters import check_adapter

    base_gguf, adapter_gguf, out_path = Path(base_gguf), Path(adapter_gguf), Path(out_path)
    check_adapter(adapter_gguf, base_gguf)  # names the tensor and both shapes if it misfits
    adapter = _read_gguf_adapter(adapter_gguf)
    deltas: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}
    for p in adapter.pairs:
        name = f"blk.{p.layer}.{MODULES.get(p.module, p.module)}.weight"
        # llama.cpp takes r from each pair (lora_b's columns), like PEFT's alpha / r
        deltas[name] = (p.a, p.b, scale * adapter.alpha / p.a.shape[0])

    def merged(name: str, weight: np.ndarray) -> np.ndarray:
        a, b, factor = deltas[name]
        # float64 product: the sum is then rounded once, to the type written
        delta = (b.astype(np.float64) @ a.astype(np.float64)) * factor
        return (weight.astype(np.float64) + delta).astype(np.float32)

    def write(target: Path) -> Path:
        return _rewrite(base_gguf, target, lambda name, _ndim: name in deltas, merged,
                        float_type, progress, cancel,
                        name=f"{base_gguf.stem} + {adapter_gguf.stem}")

    if quant_type is None:
        return write(out_path)
    return _quantized(out_path, quant_type, progress, cancel, write)


def dequantize_gguf(source: str | Path, out_path: str | Path, float_type: str = "F32",
                    progress: Progress | None = None,
                    cancel: CancelToken | None = None) -> Path:
    """Write `source` with every matrix dequantized to `float_type` (F32 or F16) to
    `out_path`, atomically; returns `out_path`. Vectors (norms) stay F32, as llama.cpp
    wants them."""

    return _rewrite(Path(source), Path(out_path), lambda _name, ndim: ndim >= 2,
                    lambda _name, weight: weight, float_type, progress, cancel,
                    file_type=_FILE_TYPE.get(float_type))


# -- the rewrite --------------------------------------------------------------------------------
def _rewrite(source: Path, out_path: Path, picks: _Picks, values: _Values, float_type: str,
             progress: Progress | None, cancel: CancelToken | None, *,
             name: str | None = None, file_type: int | None = None) -> Path:
    import gguf
    import numpy as np

    if float_type not in FLOAT_TYPES:
        raise GlassboxError(f"{float_type!r} is not a float type; use one of "
                            f"{', '.join(FLOAT_TYPES)}.")
    out_dtype = np.float16 if float_type == "F16" else np.float32
    try:
        reader = gguf.GGUFReader(str(source))
    except Exception as exc:  # gguf raises ValueError, struct.error, ...: a damaged file
        raise ModelLoadError(f"{source.name} cannot be read as a GGUF model: {exc}") from exc
    arch_field = reader.get_field(gguf.Keys.General.ARCHITECTURE)
    arch = str(arch_field.contents()) if arch_field is not None else ""

    try:
        with atomic_path(out_path) as temp:
            writer = gguf.GGUFWriter(str(temp), arch)
            try:
                _copy_metadata(reader, writer, name=name, file_type=file_type)
                # The table (with each tensor's size) comes before the data; a float tensor's size
                # is its element count times the item size, known before its values are.
                planned = [picks(t.name, len(t.shape)) for t in reader.tensors]
                for tensor, changes in zip(reader.tensors, planned, strict=True):
                    if changes:
                        shape = tuple(int(d) for d in reversed(tensor.shape.tolist()))
                        n_bytes = int(np.prod(shape)) * np.dtype(out_dtype).itemsize
                        writer.add_tensor_info(tensor.name, shape, np.dtype(out_dtype), n_bytes)
                    else:
                        writer.add_tensor_info(tensor.name, tensor.data.shape, tensor.data.dtype,
                                               tensor.data.nbytes, tensor.tensor_type)
                writer.write_header_to_file()
                writer.write_kv_data_to_file()
                writer.write_ti_data_to_file()
                total = len(reader.tensors)
                for done, (tensor, changes) in enumerate(zip(reader.tensors, planned, strict=True)):
                    if cancel is not None and cancel.is_set():
                        raise Cancelled("The merge was cancelled; nothing was written.")
                    if progress is not None:
                        progress(done, total, f"writing {tensor.name}")
                    if changes:
                        new = values(tensor.name, _dequantized(tensor))
                        writer.write_tensor_data(np.ascontiguousarray(new, dtype=out_dtype))
                    else:
                        writer.write_tensor_data(tensor.data)
            finally:
                writer.close()
    except OSError as exc:
        raise ModelLoadError(f"Cannot write {out_path}: {exc.strerror or exc}") from exc
    if progress is not None:
        progress(len(reader.tensors), len(reader.tensors), "done")
    return out_path


def _dequantized(tensor: Any) -> np.ndarray:
    """float32 values in numpy order (GGUF dims reversed: (out, in) for a matrix)."""
    import numpy as np
    from gguf.quants import dequantize

    shape = tuple(int(d) for d in reversed(tensor.shape.tolist()))
    return np.asarray(dequantize(tensor.data, tensor.tensor_type), dtype=np.float32
                      ).reshape(shape)


def _copy_metadata(reader: gguf.GGUFReader, writer: gguf.GGUFWriter, *, name: str | None,
                   file_type: int | None) -> None:
    import gguf

    replaced: dict[str, Any] = {}
    if name is not None:
        replaced[gguf.Keys.General.NAME] = name
    if file_type is not None:
        replaced[gguf.Keys.General.FILE_TYPE] = file_type
    for field in reader.fields.values():
        if field.name.startswith(_OWN_KEYS):
            continue
        vtype = field.types[0]
        sub_type = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        value = replaced.pop(field.name, field.contents())
        writer.add_key_value(field.name, value, vtype, sub_type=sub_type)
    if gguf.Keys.General.NAME in replaced:
        writer.add_name(replaced.pop(gguf.Keys.General.NAME))
    if gguf.Keys.General.FILE_TYPE in replaced:
        writer.add_file_type(replaced.pop(gguf.Keys.General.FILE_TYPE))


def _quantized(out_path: Path, quant_type: str, progress: Progress | None,
               cancel: CancelToken | None, write_float: Callable[[Path], Path]) -> Path:
    """Write the float merge beside the target, quantize it into the target, drop it."""
    from core.models.quantize import OUTPUT_TYPES, quantize_model

    if quant_type not in OUTPUT_TYPES:
        raise AdapterError(f"{quant_type!r} is not a type the merge can write; choose one of "
                           f"{', '.join(OUTPUT_TYPES)}.")
    merged = out_path.with_name(f".{out_path.name}.{os.getpid()}.merged.gguf")
    try:
        write_float(merged)
        quantize_model(merged, quant_type, progress=progress, cancel=cancel, target=out_path)
    finally:
        merged.unlink(missing_ok=True)
    return out_path
