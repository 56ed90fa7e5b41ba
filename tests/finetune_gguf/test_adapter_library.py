"""Adapters in the model library, under their base model."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from core.errors import AdapterError
from core.models.adapters import AdapterLibrary


def _list() -> str:
    from core.cli import main

    out, err = io.StringIO(), io.StringIO()
    assert main(["models", "list"], out=out, err=err) == 0, err.getvalue()
    return out.getvalue()


def test_adapter_is_listed_under_its_base_and_a_missing_file_shows(
        model_path: Path, adapter_gguf: Path, tmp_path: Path) -> None:
    copy = tmp_path / "tuned.gguf"
    shutil.copy(adapter_gguf, copy)
    entry = AdapterLibrary().register(copy, model_path, name="tuned")
    lines = _list().splitlines()
    base_row = next(i for i, line in enumerate(lines) if "smollm2" in line.lower())
    assert "+ tuned" in lines[base_row + 1]  # indented right under its base
    copy.unlink()
    assert AdapterLibrary().adapters()[0].missing
    listing = _list()
    assert "+ tuned" in listing and "file missing" in listing
    assert AdapterLibrary().remove(entry.name).name == "tuned"


def test_adapter_for_another_base_is_refused(model_path: Path, adapter_gguf: Path,
                                             tmp_path: Path) -> None:
    with pytest.raises(AdapterError, match="is not a LoRA adapter"):
        AdapterLibrary().register(model_path, model_path)  # a model, not an adapter
    other = tmp_path / "other.gguf"
    shutil.copy(adapter_gguf, other)
    data = bytearray(other.read_bytes())
    at = data.find(b"llama")
    data[at:at + 5] = b"qwen2"  # the adapter now claims another architecture
    other.write_bytes(bytes(data))
    with pytest.raises(AdapterError, match="qwen2"):
        AdapterLibrary().register(other, model_path)
    assert AdapterLibrary().adapters() == []
