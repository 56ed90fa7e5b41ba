"""Real servers on 127.0.0.1 for the server tests, and what the tests check them with."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.server.config import ServerConfig
from core.server.local_server import LocalServer
from core.server.request_log import RequestRecord

WAIT_S = 120.0  # the bound on any one wait: generous, as the machine may be shared


@contextmanager
def serving(home: Path, **options: Any) -> Iterator[LocalServer]:
    """A LocalServer on a free port; its engines are spawned with GLASSBOX_HOME=`home`."""
    server = LocalServer(ServerConfig(port=0, **options))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GLASSBOX_HOME", str(home))
        server.start()
    try:
        yield server
    finally:
        server.close()


def model_name(server: LocalServer) -> str:
    assert server.pool is not None
    return server.pool.name


def assert_openai_error(response: httpx.Response, status: int,
                        param: str | None = None) -> dict[str, Any]:
    """The response is `status` with OpenAI's error shape; returns the error object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "code", "param"}, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    if param is not None:
        assert error["param"] == param, error
    return dict(error)


def wait_for_record(server: LocalServer, match: Callable[[RequestRecord], bool]
                    ) -> RequestRecord:
    """The first logged request that `match`es (a request is logged once it has ended)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        for record in server.log.recent():
            if match(record):
                return record
        time.sleep(0.05)
    raise AssertionError("no such request was logged: "
                         f"{[(r.path, r.status, r.finish_reason) for r in server.log.recent()]}")
