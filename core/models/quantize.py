"""Make a more heavily quantized copy of a GGUF model with llama.cpp's own quantizer.

The copy goes to the lab folder in the data folder (`data_home()/quant-lab`) and stays there
until the lab is cleared or the user imports it into the model library. llama.cpp quantizes
in a child process (see lab_child): it aborts the process on some malformed files.

Small models teach something here too: llama.cpp's k-quants need rows of 256 values, so on a
model 576 wide (SmolLM2-135M) most tensors fall back to another type. `QuantizedCopy`
counts the tensor types the copy really holds, so the lab can say so.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

from core.config import data_home
from core.errors import GlassboxError
from core.gguf.reader import read_header
from core.models.lab_child import CancelToken, Progress, run_in_child
from core.models.quant_lab_types import DEFAULT_TYPE, QUANT_TYPES, QuantizedCopy

__all__ = ["DEFAULT_TYPE", "OUTPUT_TYPES", "QUANT_TYPES", "QuantizeError", "QuantizedCopy",
           "clear_lab", "copy_path", "lab_folder", "quantize_model", "tensor_types"]

LAB_FOLDER = "quant-lab"
# What quantize_model writes to a named target (a merged fine-tune, say): the lab's choices and
# the everyday types it leaves out, with their nominal bits per weight.
OUTPUT_TYPES: dict[str, float] = {
    **QUANT_TYPES, "Q4_1": 5.0, "Q4_K_M": 4.9, "Q5_0": 5.5, "Q5_1": 6.0, "Q5_K_S": 5.5,
    "F16": 16.0,
}


class QuantizeError(GlassboxError):
    """llama.cpp could not make the quantized copy."""


def lab_folder() -> Path:
    folder = data_home() / LAB_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def copy_path(source: str | Path, quant_type: str) -> Path:
    """Where the lab keeps the `quant_type` copy of `source`."""
    stem = Path(source).name.removesuffix(".gguf")
    return lab_folder() / f"{stem}.lab-{quant_type}.gguf"


def clear_lab() -> int:
    """Delete every copy the lab made (and unfinished ones); returns how many files went."""
    removed = 0
    for path in lab_folder().iterdir():
        if path.is_file() and (path.suffix == ".gguf" or path.name.endswith(".part")):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def tensor_types(path: str | Path) -> dict[str, int]:
    """How many tensors of each ggml type the file holds, most common first."""
    from core.gguf.tensors import read_tensor_table
    from core.models.anatomy import _type_name

    counts = Counter(_type_name(e.ggml_type) for e in read_tensor_table(path).tensors.values())
    return dict(counts.most_common())


def quantize_model(source: str | Path, quant_type: str = DEFAULT_TYPE,
                   progress: Progress | None = None, cancel: CancelToken | None = None,
                   threads: int | None = None, target: str | Path | None = None
                   ) -> QuantizedCopy:
    """Quantize `source` to `quant_type` (a key of QUANT_TYPES) into the lab folder, or to
    `target` (then any key of OUTPUT_TYPES), replaced whole once complete.

    Re-quantizing an already quantized model is allowed (that is the lab's point), so quality
    is lost twice. Raises ModelLoadError for a file that is not a complete GGUF model,
    QuantizeError when llama.cpp refuses, Cancelled when `cancel` is set. Progress is the
    copy's bytes so far against its expected size.
    """
    offered = QUANT_TYPES if target is None else OUTPUT_TYPES
    if quant_type not in offered:
        where = "the lab offers" if target is None else "llama.cpp can write here"
        raise QuantizeError(f"{quant_type!r} is not a type {where}; choose one of "
                            f"{', '.join(offered)}.")
    source = Path(source)
    header = read_header(source)  # a clear message for missing, foreign or truncated files
    target = copy_path(source, quant_type) if target is None else Path(target)
    partial = target.with_name(target.name + ".part")
    partial.unlink(missing_ok=True)
    # Expected size from the parameter count; fallback types (see the module's note) make
    # copies of narrow models bigger, up to about the source's size.
    expected = max(int(header.parameter_count * offered[quant_type] / 8),
                   header.actual_size if offered[quant_type] < 5 else 0, 1)

    def tick() -> None:
        if progress is not None and partial.exists():
            done = partial.stat().st_size
            progress(min(done, expected - 1), expected, f"writing {quant_type} weights")

    started = time.monotonic()
    if progress is not None:
        progress(0, expected, f"quantizing {source.name} to {quant_type}")
    try:
        run_in_child("core.models.quantize:_quantize_in_child",
                     (str(source), str(partial), quant_type, threads or _threads()),
                     f"quantizing {source.name}", progress=None, cancel=cancel, tick=tick)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    if progress is not None:
        progress(expected, expected, "done")
    return QuantizedCopy(str(source), str(target), quant_type, header.actual_size,
                         target.stat().st_size, tensor_types(target),
                         time.monotonic() - started)


def _threads() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _quantize_in_child(source: str, target: str, quant_type: str, threads: int,
                       progress: Progress) -> None:
    """In the child process: the llama.cpp call itself."""
    import llama_cpp

    from core.llama_log import route_llama_log

    route_llama_log()  # its per-tensor lines go to logging, not to the terminal
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{quant_type}")
    params.allow_requantize = True
    params.nthread = threads
    code = llama_cpp.llama_model_quantize(source.encode(), target.encode(), params)
    if code != 0 or not Path(target).is_file():
        raise QuantizeError(f"llama.cpp could not quantize {Path(source).name} to "
                            f"{quant_type} (code {code}); the file may be damaged or use an "
                            "architecture this llama.cpp does not know.")
