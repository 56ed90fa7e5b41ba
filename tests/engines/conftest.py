"""Real servers on 127.0.0.1 for the remote-engine tests: llama-cpp-python's own
OpenAI-compatible server (a subprocess, shared by the session) and `glassbox serve`
(LocalServer, one per module)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from remote_fakes import free_port

from core.engine.client import EngineClient
from core.models.bundled import default_chat_model
from core.server.config import ServerConfig
from core.server.local_server import LocalServer

_START_WAIT_S = 120.0


@pytest.fixture(scope="session")
def llama_cpp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m llama_cpp.server` over the bundled model; yields its URL once /v1/models
    answers. ChatML is SmolLM2's own template; logits_all lets it score echoed prompts."""
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(default_chat_model()),
               "--host", "127.0.0.1", "--port", str(port), "--chat_format", "chatml",
               "--n_ctx", "2048", "--logits_all", "True", "--n_threads", "2"]
    # llama.cpp logs a lot: a pipe nobody reads would fill and stop the server.
    log = tmp_path_factory.mktemp("llama-cpp-server") / "server.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + _START_WAIT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError("llama_cpp.server exited: " + log.read_text(
                    errors="replace")[-2000:])
            try:
                if httpx.get(url + "/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("llama_cpp.server did not answer /v1/models in time")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def glassbox_server() -> Iterator[LocalServer]:
    with LocalServer(ServerConfig(port=0)) as srv:
        yield srv


@pytest.fixture(scope="module")
def engine(model_path: Path) -> Iterator[EngineClient]:
    """A local engine for the comparisons in this folder, ended with its module. The shared
    session engine (tests/conftest.py) would outlive this folder, which runs before tests/gui,
    and the window tests check that closing the window leaves no engine process behind."""
    client = EngineClient()
    client.load(model_path, n_ctx=2048)
    yield client
    client.close()
