"""Fixtures for the steering tests: the model in-process (ModelRunner, no child: these tests
look at llama.cpp's context directly), a few pairs from the starter files, and the
transformers reference on the same dequantized weights (loaded through the fine-tune lab's
cache: the first load of a session reads the GGUF, later ones map f32 safetensors)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.engine.runner import ModelRunner

STARTERS = Path(__file__).resolve().parents[2] / "resources" / "steering"


@pytest.fixture(scope="session")
def runner(model_path: Path) -> Iterator[ModelRunner]:
    r = ModelRunner(model_path, n_ctx=512, n_threads=2)
    yield r
    r.close()


@pytest.fixture(scope="session")
def steering_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The dequantized-base cache; one named in GLASSBOX_FINETUNE_CACHE is kept."""
    previous = os.environ.get("GLASSBOX_FINETUNE_CACHE")
    folder = Path(previous) if previous else tmp_path_factory.mktemp("finetune-cache")
    os.environ["GLASSBOX_FINETUNE_CACHE"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("GLASSBOX_FINETUNE_CACHE", None)


@pytest.fixture(scope="session")
def reference_model(model_path: Path, steering_cache: Path):  # type: ignore[no-untyped-def]
    import torch

    from core.finetune.base_cache import load_model, load_tokenizer

    torch.set_num_threads(2)
    model = load_model(model_path, load_tokenizer(model_path))
    model.eval()
    return model
