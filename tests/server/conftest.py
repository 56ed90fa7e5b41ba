"""Fixtures for the server tests: one real server per module, on the bundled model and a free
port, with a data folder of its own (tests/conftest.py points GLASSBOX_HOME at a fresh folder
per test, but a server shared by a module starts before that, so it gets one here)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # live_server.py, beside us

from live_server import WAIT_S, serving  # noqa: E402

from core.server.local_server import LocalServer  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """One server (one engine) shared by the tests of a module."""
    with serving(tmp_path_factory.mktemp("server-home")) as srv:
        yield srv


@pytest.fixture
def client(server: LocalServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="none", max_retries=0,
                         timeout=WAIT_S)


@pytest.fixture
def http(server: LocalServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=WAIT_S) as session:
        yield session
