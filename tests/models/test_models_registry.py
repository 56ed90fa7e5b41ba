"""The model library: GGUF checks before import, copies and in-place files, default, removal."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from gguf_files import N_CTX_TRAIN, TENSOR_PARAMS

from core.errors import Cancelled, ModelImportError, ModelLibraryError, ModelLoadError, UnknownModel
from core.models.bundled import COMPARISON_BASE_ID, comparison_base_target
from core.models.metadata import quantization_from_name, read_facts
from core.models.registry import BUNDLED_CHAT_ID, ModelRegistry, models_dir


def _bundled_names() -> list[str]:
    """The bundled models listed first: SmolLM2, then Gemma when its package is installed."""
    names = [BUNDLED_CHAT_ID]
    if comparison_base_target(models_dir()) is not None:
        names.append(COMPARISON_BASE_ID)
    return names


def _files_in_models() -> list[str]:
    return sorted(p.name for p in models_dir().iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix == ".gguf")


def test_facts_come_from_the_header(make_gguf: Callable[..., Path]) -> None:
    facts = read_facts(make_gguf())
    assert facts.architecture == "llama"
    assert facts.parameter_count == 3 * TENSOR_PARAMS
    assert facts.quantization == "F32"  # general.file_type wins over the file name's Q8_0
    assert facts.context_length == N_CTX_TRAIN
    assert facts.license == "apache-2.0"
    assert facts.has_chat_template
    assert (facts.n_layer, facts.n_head_kv, facts.key_length) == (2, 2, 16)
    bare = read_facts(make_gguf("base.gguf", chat_template=False, licence=None))
    assert not bare.has_chat_template and bare.license is None


def test_quantization_from_hub_file_names() -> None:
    assert quantization_from_name("Llama-3.2-1B-Instruct-Q4_K_M.gguf") == "Q4_K_M"
    assert quantization_from_name("qwen2.5-0.5b-instruct-q8_0.gguf") == "Q8_0"
    assert quantization_from_name("Qwen2.5-0.5B-Instruct-IQ3_XS.gguf") == "IQ3_XS"
    assert quantization_from_name("model-fp16.gguf") == "F16"
    assert quantization_from_name("model.gguf") is None


def test_bad_files_are_refused_with_the_reason(make_gguf: Callable[..., Path],
                                               tmp_path: Path) -> None:
    good = make_gguf().read_bytes()
    cases = {
        "text.gguf": (b"hello, I am not a model" * 10, "not a GGUF"),
        "empty.gguf": (b"", "empty"),
        "version.gguf": (good[:4] + (9).to_bytes(4, "little") + good[8:], "version 9"),
        "cut.gguf": (good[: len(good) - 200], "truncated"),
        "header-cut.gguf": (good[:40], "truncated"),
    }
    registry = ModelRegistry()
    for name, (data, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ModelImportError, match=message):
            registry.import_file(path)
    with pytest.raises(ModelImportError, match="holds no weights"):
        registry.import_file(make_gguf("vocab-only.gguf", tensors=0))
    with pytest.raises(ModelImportError, match="not found"):
        registry.import_file(tmp_path / "missing.gguf")
    assert {e.source for e in registry.models()} == {"bundled"}
    assert _files_in_models() == []


def test_import_copies_and_lists_with_facts(make_gguf: Callable[..., Path]) -> None:
    source = make_gguf()
    registry = ModelRegistry()
    entry = registry.import_file(source)
    assert entry.name == "tiny-model-Q8_0" and entry.managed and entry.source == "imported"
    assert Path(entry.path).parent == models_dir() and Path(entry.path).read_bytes() == \
        source.read_bytes()
    assert registry.import_file(source) == entry  # the same file again: the same entry
    listed = registry.models()
    assert [e.name for e in listed] == [*_bundled_names(), entry.name]
    assert listed[0].is_default and not listed[-1].is_default
    assert registry.get("TINY-model-q8_0").facts.parameter_count == 3 * TENSOR_PARAMS
    assert not list((models_dir() / ".partial").iterdir())  # no leftovers from the copy


def test_in_place_import_names_default_and_resolve(make_gguf: Callable[..., Path]) -> None:
    registry = ModelRegistry()
    source = make_gguf("shared.gguf")
    entry = registry.import_file(source, copy=False, name="mine")
    assert entry.path == str(source.resolve()) and not entry.managed
    with pytest.raises(ModelLibraryError, match="already a model named"):
        registry.import_file(make_gguf("other.gguf"), copy=False, name="Mine")
    second = registry.import_file(make_gguf("shared-2.gguf"), copy=False)
    assert registry.resolve("mine") == source.resolve()
    assert registry.resolve(str(source)) == source  # a path is taken as it is
    assert registry.resolve(None) == Path(registry.get(BUNDLED_CHAT_ID).path)
    registry.set_default(second.name)
    assert registry.default() is not None and registry.default().name == second.name  # type: ignore[union-attr]
    assert registry.resolve(None) == Path(second.path)
    with pytest.raises(UnknownModel, match="models list"):
        registry.resolve("no-such-model")
    assert registry.resolve("elsewhere/missing.gguf") == Path("elsewhere/missing.gguf")


def test_remove_keeps_or_deletes_only_what_it_owns(make_gguf: Callable[..., Path]) -> None:
    registry = ModelRegistry()
    copied = registry.import_file(make_gguf("copied.gguf"))
    own = make_gguf("own.gguf")
    in_place = registry.import_file(own, copy=False)
    registry.set_default(copied.name)
    with pytest.raises(ModelLibraryError, match="does not delete"):
        registry.remove(in_place.name, delete_file=True)
    assert registry.get(in_place.name)  # refused before anything changed
    registry.remove(in_place.name)
    assert own.exists()
    registry.remove(copied.name, delete_file=True)
    assert not Path(copied.path).exists()
    assert [e.name for e in registry.models()] == _bundled_names()
    assert registry.default().name == BUNDLED_CHAT_ID  # type: ignore[union-attr]
    with pytest.raises(ModelLibraryError, match="ships with Glassbox"):
        registry.remove(BUNDLED_CHAT_ID)


def test_a_missing_file_is_shown_not_loaded(make_gguf: Callable[..., Path]) -> None:
    registry = ModelRegistry()
    source = make_gguf("moved.gguf")
    entry = registry.import_file(source, copy=False)
    source.unlink()
    assert registry.get(entry.name).missing
    with pytest.raises(ModelLoadError, match="not found"):
        registry.resolve(entry.name)


def test_cancelled_import_leaves_nothing(make_gguf: Callable[..., Path]) -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(Cancelled):
        ModelRegistry().import_file(make_gguf(), cancel=stop)
    assert _files_in_models() == []
    assert not list((models_dir() / ".partial").iterdir())
    assert {e.source for e in ModelRegistry().models()} == {"bundled"}


def test_the_list_survives_damage_and_is_written_atomically(
        make_gguf: Callable[..., Path]) -> None:
    registry = ModelRegistry()
    registry.import_file(make_gguf())
    path = models_dir() / "registry.json"
    assert json.loads(path.read_text())["models"][0]["name"] == "tiny-model-Q8_0"
    assert not list(models_dir().glob("*.tmp"))
    path.write_text("{ half a file")
    assert {e.source for e in registry.models()} == {"bundled"}  # readable, not a crash
    assert list(models_dir().glob("registry.damaged-*.json"))
