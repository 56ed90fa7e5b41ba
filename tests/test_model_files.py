"""Bad model files get a clear ModelLoadError, in the header check and through the engine."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.engine.client import EngineClient
from core.errors import ModelLoadError
from core.gguf.reader import read_header


def test_bundled_model_header_is_complete(model_path: Path) -> None:
    header = read_header(model_path)
    assert header.version == 3
    assert header.metadata["general.architecture"] == "llama"
    assert header.expected_size == header.actual_size == model_path.stat().st_size


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "not found"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_bytes(b"PK\x03\x04 this is a zip, not a model" * 10), "not a GGUF"),
        (lambda p: p.write_bytes(b"GGUF\x09\x00\x00\x00" + b"\x00" * 32), "version 9"),
        (lambda p: p.write_bytes(b"GGUF\x03\x00\x00\x00\x01"), "truncated"),
    ],
    ids=["missing", "empty", "not-gguf", "unknown-version", "header-cut"],
)
def test_bad_files_are_named_clearly(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "model.gguf"
    make(path)
    with pytest.raises(ModelLoadError, match=message):
        read_header(path)


def test_truncated_model_reports_sizes(tmp_path: Path, model_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    with model_path.open("rb") as src, cut.open("wb") as dst:
        dst.write(src.read(12_000_000))
    with pytest.raises(ModelLoadError, match=r"truncated: expected 98\.4 MB, found 12\.0 MB"):
        read_header(cut)


def test_engine_refuses_bad_files_and_keeps_running(tmp_path: Path, model_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"\x00" * 4096)
    folder = tmp_path / "a-folder.gguf"
    folder.mkdir()
    client = EngineClient()
    try:
        for bad, message in [(junk, "not a GGUF"), (folder, "folder"),
                             (tmp_path / "nope.gguf", "not found")]:
            with pytest.raises(ModelLoadError, match=message):
                client.load(bad)
            assert client.alive and client.model is None  # nothing was loaded before
        good = tmp_path / "copy.gguf"
        shutil.copy(model_path, good)
        assert client.load(good).name
    finally:
        client.close()


def test_a_bad_pick_keeps_the_model_that_was_loaded(tmp_path: Path, model_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + b"\xff" * 64)
    client = EngineClient()
    try:
        first = client.load(model_path, n_ctx=512)
        with pytest.raises(ModelLoadError):
            client.load(junk)
        assert client.model == first
        assert client.count_tokens("still here") > 0  # the first model still answers
    finally:
        client.close()
