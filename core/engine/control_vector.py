"""Control vectors in llama.cpp's own GGUF format: save, load, check against a model, apply.

The format, as llama.cpp's `common_control_vector_load` reads it and `cvector-generator`
writes it: `general.architecture = "controlvector"`, `controlvector.model_hint` (the base
model's architecture), `controlvector.layer_count`, and one F32 1-D tensor `direction.<L>` of
n_embd values per layer, L >= 1 (the loader refuses L = 0: llama.cpp never steers the
embedding layer). llama.cpp adds `strength x direction.<L>` to the output of layer L (the
residual stream after it, the node Glassbox captures as `l_out-L`), for L in the chosen range.

`llama_set_adapter_cvec(ctx, data, len, n_embd, il_start, il_end)` takes one buffer of
(n_layer - 1) x n_embd floats whose first row is layer 1, and applies rows il_start..il_end
(both inclusive); a NULL buffer switches steering off.

Note on cvector-generator's files: it computes its vectors from `l_out-0 .. l_out-(n-2)` and
names them `direction.1 .. direction.(n-1)`, so each lands one layer after the one it was
read from. Glassbox writes the vector read at layer L as `direction.L`, where llama.cpp adds
it. Both load here; unknown metadata keys (Glassbox's `glassbox.*`) are ignored by llama.cpp.

Imports numpy and gguf: used by the engine child, the CLI and tests, never on the window's
start path.
"""

from __future__ import annotations

import ctypes
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.engine.steering_types import SteeringDirection
from core.errors import SteeringError

ARCH = "controlvector"
_DIRECTION = re.compile(r"^direction\.(\d+)$")
# Where the engine's runner keeps the control vector it applies to the chat context, as
# (buffer, il_start, il_end): the steering lab switches its own on and off over the same
# context and puts this one back afterwards.
CVEC_ATTR = "glassbox_cvec"
# A saved Glassbox vector is meant for -2..2 (the lab's slider); llama.cpp's cvector-generator
# writes unit vectors, which need strengths of tens to matter, so files allow more.
FILE_STRENGTH_MAX = 100.0


@dataclass(frozen=True)
class ControlVectorFile:
    path: str
    model_hint: str  # "" when the file has none
    layer_count: int  # as the file says (0 when missing)
    n_embd: int
    directions: dict[int, np.ndarray]  # layer (>= 1) -> float32 (n_embd,)
    suggested_layers: tuple[int, int] | None  # Glassbox's saved range, if any

    @property
    def max_layer(self) -> int:
        return max(self.directions)

    def active_layers(self) -> tuple[int, int]:
        """The range to steer by default: the saved one, else the layers whose direction is
        not zero (cvector-generator's files: all of them)."""
        if self.suggested_layers is not None:
            return self.suggested_layers
        live = sorted(k for k, v in self.directions.items() if np.any(v))
        return (live[0], live[-1]) if live else (1, self.max_layer)


@dataclass(frozen=True)
class ModelShape:
    """What a control vector must fit: read from the loaded model's file."""

    architecture: str
    n_layer: int
    n_embd: int
    name: str = "the model"


def model_shape(llm: Any, name: str = "the model") -> ModelShape:
    import llama_cpp

    model = llm._model.model
    return ModelShape(str(llm.metadata.get("general.architecture", "unknown")),
                      int(llama_cpp.llama_model_n_layer(model)),
                      int(llama_cpp.llama_model_n_embd(model)), name)


def direction_vectors(direction: SteeringDirection,
                      layers: tuple[int, int]) -> dict[int, np.ndarray]:
    """What strength 1 adds at each layer of the range: the unit direction times the layer's
    mean-difference length over sqrt(width) (core.engine.steering says why)."""
    start, end = layers
    share = math.sqrt(end - start + 1)
    return {layer: np.asarray(direction.vectors[layer], dtype=np.float32)
            * np.float32(direction.scales[layer] / share) for layer in range(start, end + 1)}


def save(direction: SteeringDirection, path: str | Path, layers: tuple[int, int]) -> Path:
    """Write `direction` as a llama.cpp control vector steering `layers`: `direction.L` is what
    strength 1 adds at layer L, zero outside the range, for every steerable layer
    (1..n_layer-1), so llama.cpp's `--control-vector-scaled FILE S` steers exactly as Glassbox
    does at strength S. The range is also stored as `glassbox.layer_range` (llama.cpp ignores
    it). Raises SteeringError."""
    import gguf

    out = Path(path)
    if out.suffix.lower() != ".gguf":
        raise SteeringError(f"Control vectors are GGUF files: name it {out.stem}.gguf.")
    shape = ModelShape(direction.architecture, direction.n_layer, direction.n_embd)
    span = check_layers(layers, shape)
    vectors = direction_vectors(direction, span)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")  # written aside, renamed when complete
    writer = gguf.GGUFWriter(str(tmp), ARCH)
    writer.add_string(f"{ARCH}.model_hint", direction.architecture)
    writer.add_int32(f"{ARCH}.layer_count", direction.n_layer - 1)
    writer.add_string("glassbox.method", direction.method)
    writer.add_string("glassbox.pooling", direction.pooling)
    writer.add_uint32("glassbox.pairs", direction.n_pairs)
    writer.add_array("glassbox.layer_range", [span[0], span[1]])
    zero = np.zeros(direction.n_embd, dtype=np.float32)
    for layer in range(1, direction.n_layer):
        writer.add_tensor(f"direction.{layer}", vectors.get(layer, zero))
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SteeringError(f"Could not write the control vector {out}: {exc}") from exc
    return out


def load(path: str | Path) -> ControlVectorFile:
    """Read a control vector as llama.cpp would, refusing what its loader refuses (with the
    reason in words): a tensor not named `direction.<L>`, L = 0, not F32, not 1-D, or of
    another length than the others."""
    import gguf

    file = Path(path)
    if not file.is_file():
        raise SteeringError(f"Control vector not found: {file}")
    try:
        reader = gguf.GGUFReader(str(file))
    except (ValueError, OSError, KeyError) as exc:
        raise SteeringError(f"{file.name} is not a readable GGUF file: {exc}") from exc
    arch = _field_str(reader, "general.architecture")
    if arch != ARCH:
        raise SteeringError(f"{file.name} is not a control vector: its architecture is "
                            f"{arch or 'missing'!r}, not {ARCH!r} (a model or a LoRA file?).")
    directions: dict[int, np.ndarray] = {}
    for tensor in reader.tensors:
        found = _DIRECTION.match(tensor.name)
        if found is None:
            raise SteeringError(f"{file.name}: tensor {tensor.name!r} is not named "
                                "direction.<layer>, so llama.cpp would refuse the file.")
        layer = int(found.group(1))
        if layer == 0:
            raise SteeringError(f"{file.name}: direction.0 steers the embeddings, which "
                                "llama.cpp never does; it refuses such a file.")
        if tensor.tensor_type != gguf.GGMLQuantizationType.F32 or len(tensor.shape) != 1:
            raise SteeringError(f"{file.name}: {tensor.name} must be a 1-D F32 tensor "
                                f"(it is {tensor.tensor_type.name}, shape "
                                f"{list(tensor.shape)}).")
        directions[layer] = np.array(tensor.data, dtype=np.float32).reshape(-1)
    if not directions:
        raise SteeringError(f"{file.name} holds no direction tensors.")
    sizes = {v.size for v in directions.values()}
    if len(sizes) != 1:
        raise SteeringError(f"{file.name}: its directions have different lengths "
                            f"{sorted(sizes)}; the file is damaged.")
    span = _field_ints(reader, "glassbox.layer_range")
    return ControlVectorFile(
        str(file), _field_str(reader, f"{ARCH}.model_hint"),
        int((_field_ints(reader, f"{ARCH}.layer_count") or [0])[0]), sizes.pop(), directions,
        (span[0], span[1]) if span and len(span) == 2 else None)


def _field_str(reader: Any, key: str) -> str:
    field = reader.get_field(key)
    if field is None:
        return ""
    return bytes(field.parts[field.data[0]]).decode("utf-8", errors="replace")


def _field_ints(reader: Any, key: str) -> list[int]:
    field = reader.get_field(key)
    if field is None:
        return []
    return [int(field.parts[i][0]) for i in field.data]


def check_fits(cv: ControlVectorFile, shape: ModelShape) -> None:
    """Refuse a control vector made for another model, saying which fact differs."""
    name = Path(cv.path).name
    if cv.model_hint and cv.model_hint != shape.architecture:
        raise SteeringError(f"{name} was made for a {cv.model_hint!r} model; {shape.name} is "
                            f"{shape.architecture!r}. Build a direction on this model instead.")
    if cv.n_embd != shape.n_embd:
        raise SteeringError(f"{name} has {cv.n_embd}-wide directions; {shape.name} has a "
                            f"{shape.n_embd}-wide residual stream. It was made for another "
                            "model.")
    if cv.max_layer > shape.n_layer - 1 or cv.layer_count > shape.n_layer - 1:
        count = max(cv.max_layer, cv.layer_count)
        raise SteeringError(f"{name} steers {count} layers; {shape.name} has {shape.n_layer} "
                            f"(layers 1 to {shape.n_layer - 1} can be steered). It was made "
                            "for another model.")


def check_layers(layers: tuple[int, int], shape: ModelShape) -> tuple[int, int]:
    start, end = int(layers[0]), int(layers[1])
    last = shape.n_layer - 1
    if not 1 <= start <= end <= last:
        raise SteeringError(f"Layers {start}-{end} are outside {shape.name}: it has "
                            f"{shape.n_layer} layers (0 to {last}), and llama.cpp steers "
                            f"layers 1 to {last}. Pick a range inside 1-{last}.")
    return start, end


def buffer(directions: dict[int, np.ndarray], strength: float, n_layer: int,
           n_embd: int) -> np.ndarray:
    """The (n_layer - 1, n_embd) buffer llama_set_adapter_cvec reads: row 0 is layer 1."""
    data = np.zeros((n_layer - 1, n_embd), dtype=np.float32)
    for layer, vector in directions.items():
        if 1 <= layer < n_layer:
            data[layer - 1] = vector * np.float32(strength)
    return data


def set_on_context(ctx: Any, data: np.ndarray | None, n_embd: int,
                   layers: tuple[int, int] = (-1, -1)) -> None:
    """Switch steering on a llama.cpp context on (`data` from `buffer`) or off (None).
    llama.cpp copies the buffer into its own tensors, so `data` need not outlive the call."""
    import llama_cpp

    if data is None:
        llama_cpp.llama_set_adapter_cvec(ctx, None, 0, n_embd, -1, -1)
        return
    flat = np.ascontiguousarray(data, dtype=np.float32)
    ptr = flat.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    if llama_cpp.llama_set_adapter_cvec(ctx, ptr, flat.size, n_embd, layers[0], layers[1]):
        raise SteeringError("llama.cpp refused the control vector (its width does not match "
                            "the model).")


def attach(llm: Any, path: str | Path, strength: float, layers: tuple[int, int] | None,
           name: str = "the model") -> tuple[str, float, tuple[int, int]]:
    """Load the control vector at `path`, check it fits `llm`, and keep it applied to the chat
    context (generation, Compare, the server) until `detach`. Returns (absolute path,
    strength, layer range) as applied. Raises SteeringError; on error nothing changes."""
    value = float(strength)
    if not math.isfinite(value) or abs(value) > FILE_STRENGTH_MAX:
        raise SteeringError(f"Strength {strength} is outside -{FILE_STRENGTH_MAX:g} to "
                            f"{FILE_STRENGTH_MAX:g}.")
    shape = model_shape(llm, name)
    cv = load(path)
    check_fits(cv, shape)
    span = check_layers(layers or cv.active_layers(), shape)
    data = buffer(cv.directions, value, shape.n_layer, shape.n_embd)
    set_on_context(llm._ctx.ctx, data, shape.n_embd, span)
    setattr(llm, CVEC_ATTR, (data, span[0], span[1]))
    _fresh_cache(llm)
    return str(Path(path).resolve()), value, span


def detach(llm: Any) -> None:
    """Plain generation again."""
    if getattr(llm, CVEC_ATTR, None) is None:
        return
    set_on_context(llm._ctx.ctx, None, model_shape(llm).n_embd)
    setattr(llm, CVEC_ATTR, None)
    _fresh_cache(llm)


def _fresh_cache(llm: Any) -> None:
    # Keys and values computed under another steering must not be re-used as a prefix.
    llm.n_tokens = 0
    llm._ctx.kv_cache_clear()


def as_direction(cv: ControlVectorFile, shape: ModelShape) -> SteeringDirection:
    """A loaded control vector as a direction the steering lab can run: for its own layer
    range, strength S adds exactly S x the file's vectors (unscored: a file holds no pairs)."""
    check_fits(cv, shape)
    start, end = check_layers(cv.active_layers(), shape)
    share = math.sqrt(end - start + 1)
    vectors, scales = [], []
    for layer in range(shape.n_layer):
        v = cv.directions.get(layer, np.zeros(shape.n_embd, dtype=np.float32)).astype(np.float64)
        norm = float(np.linalg.norm(v))
        vectors.append(tuple(float(x) for x in (v / norm if norm > 0 else v)))
        scales.append(norm * share if start <= layer <= end else norm)
    from core.engine.steering_types import LayerSeparation

    separation = tuple(LayerSeparation(layer, None, None, scales[layer], 0.0)
                       for layer in range(shape.n_layer))
    return SteeringDirection(cv.path, shape.architecture, shape.n_layer, shape.n_embd, "mean",
                             "mean", 0, tuple(vectors), tuple(scales), separation,
                             f"Loaded from {Path(cv.path).name} (layers {start}-{end}): a "
                             "file holds no pairs, so its layers are not scored.")
