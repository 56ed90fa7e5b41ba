"""An engine for this folder, ended with its module so no engine process outlives the folder
(tests/gui checks that none is left behind)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.engine.client import EngineClient


@pytest.fixture(scope="module")
def engine(model_path: Path) -> Iterator[EngineClient]:
    client = EngineClient()
    client.load(model_path, n_ctx=1024)
    yield client
    client.close()
