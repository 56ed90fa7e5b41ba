"""One real server per test file, over the bundled model, with its own data folder.

The server runs in this process and reads the data folder (GLASSBOX_HOME) at each request,
so the folder must stay the same for every test of a file: the per-test folder of
tests/conftest.py is replaced here by one per module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.server.config import ServerConfig
from core.server.local_server import LocalServer


@pytest.fixture(scope="module")
def module_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("server-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GLASSBOX_HOME", str(home))
        yield home


@pytest.fixture(autouse=True)
def glassbox_home(module_home: Path) -> Path:
    return module_home


@pytest.fixture(scope="module")
def server(module_home: Path) -> Iterator[LocalServer]:
    with LocalServer(ServerConfig(port=0)) as srv:
        yield srv
