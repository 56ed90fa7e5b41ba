"""Fixtures for the model library: small real GGUF files and a local stand-in for the hub."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fake_hub import FakeHub, serving_hub
from gguf_files import write_gguf


@pytest.fixture
def make_gguf(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "tiny-model-Q8_0.gguf", **options: object) -> Path:
        folder = tmp_path / "files"
        folder.mkdir(exist_ok=True)
        return write_gguf(folder / name, **options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A local hub for this test; HF_ENDPOINT points at it, never at the network."""
    yield from serving_hub(monkeypatch)
