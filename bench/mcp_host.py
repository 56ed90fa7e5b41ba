"""The MCP host's cost over the raw SDK: a tool call, a server start and a large result, over
stdio and HTTP.

Glassbox calls MCP tools through McpHost (core/tools/mcp_host.py): a synchronous call from the
agent's thread, handed to the host's event loop, through the SDK's Client, and back. The
baseline is the SDK's own `Client` awaited directly in an asyncio program, against the same
server script (tests/tools_mcp/servers/toolkit.py) started the same way. The figures are
milliseconds per call (median of rounds of CALLS calls each) and per start (process spawn,
handshake, tool listing) and per 10 MB result (on POSIX the host reads stdio with its own
linear reader, core/tools/mcp_stdio.py); rounds alternate between the two sides so a burst of
load from elsewhere falls on both.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench._stats import figure

ROUNDS = 7
CALLS = 50
STARTS = 5
LARGE_CHARS = 10 * 1024 * 1024  # one large result; the SDK's stdio reader is quadratic in it
LARGE_ROUNDS = 3
TOOLKIT = Path(__file__).resolve().parent.parent / "tests" / "tools_mcp" / "servers" / "toolkit.py"


def _raw_calls(server: Any) -> float:
    """ms per call of the SDK's Client awaited directly (its start not timed)."""
    from mcp import Client

    async def main() -> float:
        async with Client(server, cache=None) as client:
            await client.list_tools()
            await client.call_tool("add", {"a": 1, "b": 2})  # warm
            began = time.perf_counter()
            for i in range(CALLS):
                await client.call_tool("add", {"a": i, "b": 2})
            return (time.perf_counter() - began) * 1000 / CALLS

    return asyncio.run(main())


def _raw_start(server: Any) -> float:
    from mcp import Client

    async def main() -> float:
        began = time.perf_counter()
        async with Client(server, cache=None) as client:
            await client.list_tools()
            return (time.perf_counter() - began) * 1000

    return asyncio.run(main())


def _raw_large(server: Any) -> float:
    """ms for one LARGE_CHARS result through the SDK's Client and its own stdio reader."""
    from mcp import Client

    async def main() -> float:
        async with Client(server, cache=None) as client:
            began = time.perf_counter()
            result = await client.call_tool("huge", {"n": LARGE_CHARS})
            assert len(result.content[0].text) == LARGE_CHARS  # type: ignore[union-attr]
            return (time.perf_counter() - began) * 1000

    return asyncio.run(main())


def _host_large(config: Any) -> float:
    from core.tools.mcp_host import McpHost

    with McpHost({config.name: config}) as host:
        spec = next(s for s in host.specs([config.name]) if s.name.endswith("__huge"))
        began = time.perf_counter()
        assert len(host.call(spec, {"n": LARGE_CHARS}, 300)) == LARGE_CHARS
        return (time.perf_counter() - began) * 1000


def _host_calls(host: Any, spec: Any) -> float:
    began = time.perf_counter()
    for i in range(CALLS):
        host.call(spec, {"a": i, "b": 2}, 30)
    return (time.perf_counter() - began) * 1000 / CALLS


def _host_start(config: Any) -> float:
    from core.tools.mcp_host import McpHost

    with McpHost({config.name: config}) as host:
        began = time.perf_counter()
        host.tools(config.name)
        return (time.perf_counter() - began) * 1000


def _compare_calls(config: Any, raw_server: Any) -> tuple[list[float], list[float]]:
    from core.tools.mcp_host import McpHost

    ours: list[float] = []
    bare: list[float] = []
    with McpHost({config.name: config}) as host:
        spec = next(s for s in host.specs([config.name]) if s.name.endswith("__add"))
        host.call(spec, {"a": 0, "b": 0}, 30)  # warm
        for _ in range(ROUNDS):
            ours.append(_host_calls(host, spec))
            bare.append(_raw_calls(raw_server))
    return ours, bare


def _http_server() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    process = subprocess.Popen([sys.executable, str(TOOLKIT), "--http", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, f"http://127.0.0.1:{port}/mcp"
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the HTTP toolkit did not listen within 60 s")


def run() -> dict[str, Any]:
    from mcp.client.stdio import StdioServerParameters

    from core.tools.mcp_config import HttpServer, StdioServer

    stdio = StdioServer(name="kit", command=sys.executable, args=(str(TOOLKIT),))
    raw_stdio = StdioServerParameters(command=sys.executable, args=[str(TOOLKIT)])
    rows: list[dict[str, Any]] = []
    ours, bare = _compare_calls(stdio, raw_stdio)
    rows.append(figure("MCP tool call over stdio (ms per call)", ours, bare,
                       "the SDK's Client awaited directly", calls_per_round=CALLS))
    starts_ours: list[float] = []
    starts_bare: list[float] = []
    for _ in range(STARTS):
        starts_ours.append(_host_start(stdio))
        starts_bare.append(_raw_start(raw_stdio))
    rows.append(figure("MCP server start over stdio: spawn, handshake, tools", starts_ours,
                       starts_bare, "the SDK's Client awaited directly"))
    large_ours: list[float] = []
    large_bare: list[float] = []
    for _ in range(LARGE_ROUNDS):
        large_ours.append(_host_large(stdio))
        large_bare.append(_raw_large(raw_stdio))
    rows.append(figure("a 10 MB tool result over stdio", large_ours, large_bare,
                       "the SDK's Client with its own stdio reader"))
    process, url = _http_server()
    try:
        ours, bare = _compare_calls(HttpServer(name="web", url=url), url)
        rows.append(figure("MCP tool call over streamable HTTP (ms per call)", ours, bare,
                           "the SDK's Client awaited directly", calls_per_round=CALLS))
    finally:
        process.terminate()
        process.wait(timeout=10)
    return {"figures": rows}


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
