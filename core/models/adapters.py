"""LoRA adapters in the model library, each tied to the base model it was trained on.

Kept in their own list (`adapters.json` beside the model list, under the same lock) so the
model list's format does not change. An adapter records its base by path and SHA-256, as the
fine-tune run's manifest has them; it shows under the library entry with that path or
checksum, and under no base (an orphan) when that model has left the library.

Registering checks the GGUF headers (architecture, and every lora_a / lora_b against the
base's weight): an adapter for another base is refused with the reason. The engine loads
adapters through the same check (`check_adapter`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from core.atomic import write_json_atomic
from core.errors import AdapterError, ModelLoadError
from core.gguf.tensors import TensorTable, read_tensor_table
from core.models.registry import ModelEntry, _file_lock, library_name, models_dir

__all__ = ["AdapterEntry", "AdapterLibrary"]


@dataclass(frozen=True)
class AdapterEntry:
    name: str
    path: str  # the GGUF adapter file
    base_path: str  # the base model file it was trained on
    base_sha256: str | None = None
    run_dir: str | None = None  # the fine-tune run that made it, if any
    added_at: float = 0.0
    missing: bool = False  # the file is gone from disk (filled in when listed)

    def belongs_to(self, model: ModelEntry) -> bool:
        if self.base_sha256 and model.sha256:
            return self.base_sha256 == model.sha256
        return os.path.realpath(self.base_path) == os.path.realpath(model.path)


def _list_path() -> Path:
    return models_dir() / "adapters.json"


def _load() -> list[AdapterEntry]:
    try:
        raw = json.loads(_list_path().read_text(encoding="utf-8"))
        fields = AdapterEntry.__dataclass_fields__
        return [AdapterEntry(**{k: v for k, v in a.items() if k in fields})
                for a in raw["adapters"]]
    except FileNotFoundError:
        return []
    except (ValueError, KeyError, TypeError):  # a hand edit: start again, keep the files
        _list_path().replace(_list_path().with_name(f"adapters.damaged-{int(time.time())}.json"))
        return []


def _save(entries: list[AdapterEntry]) -> None:
    write_json_atomic(_list_path(), {"version": 1, "adapters": [
        asdict(replace(e, missing=False)) for e in entries]}, indent=1)


def check_adapter(adapter: str | Path, base: str | Path | TensorTable) -> None:
    """Refuse, with words, a GGUF LoRA adapter that is not one or was made for another base.

    llama.cpp checks the same and fails cleanly, but says only "failed to apply lora adapter"
    in its log; this names the file, the tensor and both shapes. Reads headers only."""
    name = Path(adapter).name
    try:
        table = read_tensor_table(adapter)
    except ModelLoadError as exc:
        raise AdapterError(f"The LoRA adapter {name} cannot be read: {exc}") from exc
    meta = table.metadata
    if meta.get("general.type") != "adapter" or meta.get("adapter.type") != "lora":
        raise AdapterError(f"{name} is not a LoRA adapter (a GGUF adapter has general.type "
                           "'adapter' and adapter.type 'lora'); is it a model file?")
    base_table = base if isinstance(base, TensorTable) else read_tensor_table(base)
    base_name = Path(base_table.path).name
    arch = base_table.metadata.get("general.architecture")
    if meta.get("general.architecture") != arch:
        raise AdapterError(f"{name} is an adapter for a {meta.get('general.architecture')!r} "
                           f"model; {base_name} is {arch!r}. Load it over its own base model.")
    for tensor_name, entry in table.tensors.items():
        weight, _, side = tensor_name.rpartition(".")
        target = base_table.tensors.get(weight)
        if side not in ("lora_a", "lora_b"):
            continue  # norm vectors some tools add; llama.cpp skips them too
        if target is None:
            raise AdapterError(f"{name} changes {weight}, which {base_name} does not have: it "
                               "was made for another base model.")
        # GGUF dims: lora_a (in, r), lora_b (r, out), the weight (in, out)
        axis = 0 if side == "lora_a" else 1
        if entry.dims[axis] != target.dims[axis]:
            raise AdapterError(f"{name} was made for another base model: its {tensor_name} "
                               f"has shape {list(entry.dims)}, {base_name}'s {weight} is "
                               f"{list(target.dims)}.")


class AdapterLibrary:
    """Adapters in the library. Cheap to create; every call reads the list from disk."""

    def adapters(self) -> list[AdapterEntry]:
        return [replace(a, missing=not Path(a.path).is_file()) for a in _load()]

    def for_base(self, model: ModelEntry) -> list[AdapterEntry]:
        return [a for a in self.adapters() if a.belongs_to(model)]

    def register(self, path: str | Path, base_path: str | Path, *,
                 base_sha256: str | None = None, name: str | None = None,
                 run_dir: str | Path | None = None) -> AdapterEntry:
        """Add (or refresh, for the same file) an adapter under its base model."""
        path, base = Path(path).resolve(), Path(base_path).resolve()
        check_adapter(path, base)
        with _file_lock():
            entries = [a for a in _load() if Path(a.path) != path]
            taken = {a.name.lower() for a in entries}
            wanted = library_name(name or path.stem)
            unique, n = wanted, 2
            while unique.lower() in taken:
                unique, n = f"{wanted}-{n}", n + 1
            entry = AdapterEntry(unique, str(path), str(base), base_sha256,
                                 str(run_dir) if run_dir else None, time.time())
            _save([*entries, entry])
        return entry

    def remove(self, name: str) -> AdapterEntry:
        with _file_lock():
            entries = _load()
            found = next((a for a in entries if a.name == name), None)
            if found is None:
                raise AdapterError(f"No adapter named {name!r} in the library.")
            _save([a for a in entries if a is not found])
        return found


def to_dict(entry: AdapterEntry) -> dict[str, Any]:
    return asdict(entry)
