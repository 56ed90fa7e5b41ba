"""Fixtures for the MCP host tests: real MCP servers (tests/tools_mcp/servers/, written with the
SDK's MCPServer) run over stdio by the host, or over streamable HTTP by the test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.tools.mcp_config import HttpServer, StdioServer

SERVERS = Path(__file__).parent / "servers"
TOOLKIT = SERVERS / "toolkit.py"


def toolkit(name: str) -> StdioServer:
    """The toolkit server run by the host as a child, under `name` (its echo says which)."""
    return StdioServer(name=name, command=sys.executable, args=(str(TOOLKIT), "--name", name))


def python_server(name: str, code: str) -> StdioServer:
    """A 'server' that is a few lines of Python: for the ones that misbehave."""
    return StdioServer(name=name, command=sys.executable, args=("-c", code))


def process_gone(pid: int, within_s: float = 10.0) -> bool:
    """Whether `pid` has exited and been reaped within `within_s` (a zombie still counts as
    there: its parent has not waited for it)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state == "Z" and not _is_our_child(pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _is_our_child(pid: int) -> bool:
    try:
        ppid = int(Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[2])
    except FileNotFoundError:
        return False
    return ppid == os.getpid()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class HttpToolkit:
    """The toolkit server over streamable HTTP, in a process the test owns."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(TOOLKIT), "--name", self.name, "--http", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the HTTP toolkit exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the HTTP toolkit did not listen within 30 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def config(self, **headers: str) -> HttpServer:
        return HttpServer(name=self.name, url=self.url, headers=headers)


@pytest.fixture(scope="module")
def http_toolkit() -> Iterator[HttpToolkit]:
    server = HttpToolkit("web")
    server.start()
    yield server
    server.stop()
