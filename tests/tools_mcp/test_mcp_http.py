"""The MCP host over streamable HTTP, against a real MCPServer the test runs on 127.0.0.1 (a
process of its own on a free port): tools, calls, error results, headers, a hang cut off, a
server that goes away and comes back, and a URL where nothing listens."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from conftest import HttpToolkit, free_port

from core.errors import McpServerError, ToolError
from core.tools.mcp_config import HttpServer
from core.tools.mcp_host import McpHost
from core.tools.types import ToolSpec


@pytest.fixture(scope="module")
def host(http_toolkit: HttpToolkit) -> Iterator[McpHost]:
    config = http_toolkit.config(Authorization="Bearer glassbox-test")
    with McpHost({"web": config}, start_timeout_s=20) as shared:
        yield shared


def spec(host: McpHost, tool: str) -> ToolSpec:
    return next(s for s in host.specs(["web"]) if s.name == f"web__{tool}")


def test_tools_over_http_have_descriptions_and_schemas(host: McpHost) -> None:
    tools = {t.name: t for t in host.tools("web")}
    assert tools["echo"].description.startswith("Echo the text back")
    assert tools["echo"].parameters["properties"]["text"]["type"] == "string"
    status = host.status("web")
    assert (status.transport, status.state, status.tools) == ("http", "ready", len(tools))
    assert status.stderr_tail == ""


def test_calls_over_http(host: McpHost) -> None:
    assert host.call(spec(host, "add"), {"a": 2, "b": 40}, 10) == "42"
    assert host.call(spec(host, "echo"), {"text": "over the wire"}, 10) == "web: over the wire"


def test_a_large_result_over_http_arrives_whole(host: McpHost) -> None:
    size = 3 * 1024 * 1024
    assert host.call(spec(host, "huge"), {"n": size}, 20) == "x" * size


def test_configured_headers_reach_the_server(host: McpHost) -> None:
    assert host.call(spec(host, "header"), {"name": "authorization"}, 10) == "Bearer glassbox-test"


def test_an_error_result_over_http(host: McpHost) -> None:
    with pytest.raises(ToolError, match="no such file") as caught:
        host.call(spec(host, "fail"), {"message": "no such file"}, 10)
    assert not isinstance(caught.value, McpServerError)


def test_a_hang_over_http_is_cut_off_and_the_next_call_works(host: McpHost) -> None:
    began = time.monotonic()
    with pytest.raises(McpServerError, match=r'"slow" on server "web" did not answer within 1 s'):
        host.call(spec(host, "slow"), {"seconds": 60}, timeout_s=1.0)
    assert time.monotonic() - began < 5
    assert host.call(spec(host, "add"), {"a": 1, "b": 2}, 10) == "3"  # reconnected


def test_a_server_that_goes_away_and_comes_back() -> None:
    server = HttpToolkit("flaky")
    server.start()
    try:
        with McpHost({"flaky": server.config()}, start_timeout_s=20) as host:
            echo = next(s for s in host.specs(["flaky"]) if s.name == "flaky__echo")
            assert host.call(echo, {"text": "one"}, 10) == "flaky: one"
            server.stop()
            with pytest.raises(McpServerError, match='"flaky"'):
                host.call(echo, {"text": "two"}, 10)
            server.start()  # same port
            host.restart("flaky")
            assert host.call(echo, {"text": "three"}, 10) == "flaky: three"
    finally:
        server.stop()


def test_a_url_where_nothing_listens() -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    with McpHost({"nowhere": HttpServer(name="nowhere", url=url)}, start_timeout_s=20) as host:
        began = time.monotonic()
        with pytest.raises(McpServerError) as caught:
            host.start("nowhere")
        assert time.monotonic() - began < 15
        message = str(caught.value)
        assert '"nowhere"' in message and url in message
        assert host.status("nowhere").state == "failed"
