"""Fixtures for the fine-tune lab: one cache of the dequantized base model for the session
(reading SmolLM2's GGUF with transformers takes a minute on two busy cores; the cache makes
every later load of the session a second or two), and small chat datasets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.engine.types import ChatMessage
from core.finetune.data import Dataset, Example


@pytest.fixture(scope="session", autouse=True)
def finetune_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cache folder for the session; one named in GLASSBOX_FINETUNE_CACHE already is kept
    (set it to keep the cache between runs while working on these tests)."""
    previous = os.environ.get("GLASSBOX_FINETUNE_CACHE")
    folder = Path(previous) if previous else tmp_path_factory.mktemp("finetune-cache")
    os.environ["GLASSBOX_FINETUNE_CACHE"] = str(folder)  # spawned children inherit it
    yield folder
    if previous is None:
        os.environ.pop("GLASSBOX_FINETUNE_CACHE", None)


def pirate_examples(count: int) -> tuple[Example, ...]:
    """Short chats whose replies share one style, so a few steps visibly teach it; a system
    message replaces SmolLM2's long default one to keep examples short."""
    return tuple(
        Example((ChatMessage("system", "Be brief."), ChatMessage("user", f"Name {i}?")),
                f"Arr, matey {i}!")
        for i in range(count))


@pytest.fixture
def pirate_dataset() -> Dataset:
    return Dataset(pirate_examples(10), "pirates")
