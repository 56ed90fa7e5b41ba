"""Fixtures for the model library: small real GGUF files and a local stand-in for the hub."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fake_hub import FakeHub
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
    """A fresh local hub; HF_ENDPOINT points at it for this test only."""
    import huggingface_hub.constants

    fake = FakeHub().start()
    monkeypatch.setenv("HF_ENDPOINT", fake.url)
    # The embedder sets HF_HUB_OFFLINE for the process (huggingface-hub reads it once, at
    # import); a test of the hub must not depend on whether an embedding test ran first.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    yield fake
    fake.stop()
