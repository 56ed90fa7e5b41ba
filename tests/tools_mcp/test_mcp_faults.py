"""MCP servers that misbehave: a tool that hangs, a server that dies mid-call, one that prints
on stdout what is not the protocol, one that never answers, one that exits at once, a command
that does not exist. Each is a clear McpServerError naming the server, within its timeout, and
the host goes on (the server starts again on the next call, or on restart)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SERVERS, process_gone, python_server, toolkit

from core.errors import Cancelled, McpServerError
from core.tools.mcp_config import StdioServer
from core.tools.mcp_host import McpHost
from core.tools.types import ToolSpec

START_S = 20.0  # generous for a loaded machine; the faults below fail well before it


@pytest.fixture
def host() -> Iterator[McpHost]:
    with McpHost({"kit": toolkit("kit")}, start_timeout_s=START_S) as fresh:
        yield fresh


def tool(host: McpHost, name: str) -> ToolSpec:
    return next(s for s in host.specs(["kit"]) if s.name == f"kit__{name}")


def pid_of(host: McpHost) -> int:
    return int(host.call(tool(host, "pid"), {}, 10))


def test_a_hanging_tool_is_cut_off_by_its_timeout_and_the_host_goes_on(host: McpHost) -> None:
    first_pid = pid_of(host)
    began = time.monotonic()
    with pytest.raises(McpServerError, match=r'"slow" on server "kit" did not answer within 1 s'):
        host.call(tool(host, "slow"), {"seconds": 60}, timeout_s=1.0)
    assert time.monotonic() - began < 5  # the timeout, not the tool's 60 s
    assert host.status("kit").state == "failed"
    # The hung server is stopped; the next call starts a fresh one and works.
    assert host.call(tool(host, "add"), {"a": 1, "b": 1}, 10) == "2"
    assert host.status("kit").state == "ready"
    assert process_gone(first_pid) and pid_of(host) != first_pid


def test_a_cancelled_call_returns_at_once_and_the_server_stays_up(host: McpHost) -> None:
    before = pid_of(host)
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    began = time.monotonic()
    with pytest.raises(Cancelled):
        host.call(tool(host, "slow"), {"seconds": 60}, timeout_s=30, cancel=cancel)
    assert time.monotonic() - began < 5
    assert host.status("kit").state == "ready"
    assert host.call(tool(host, "add"), {"a": 3, "b": 4}, 10) == "7"
    assert pid_of(host) == before  # the same process: no restart was needed


def test_a_server_that_dies_mid_call_is_reported_and_restarts(host: McpHost) -> None:
    with pytest.raises(McpServerError) as caught:
        host.call(tool(host, "crash"), {}, timeout_s=10)
    message = str(caught.value)
    assert 'MCP server "kit"' in message and "exited" in message
    assert "crashing on purpose" in message  # the stderr tail comes with it
    status = host.status("kit")
    assert status.state == "failed" and status.error == message
    assert "crashing on purpose" in status.stderr_tail
    host.restart("kit")
    assert host.status("kit").state == "ready"
    assert host.call(tool(host, "echo"), {"text": "back"}, 10) == "kit: back"
    # restart also replaces a server that is alive and well.
    before = pid_of(host)
    host.restart("kit")
    assert pid_of(host) != before and process_gone(before)


def test_text_on_stdout_that_is_not_the_protocol_is_a_clear_error() -> None:
    noisy = StdioServer(name="noisy", command=sys.executable, args=(str(SERVERS / "noisy.py"),))
    with McpHost({"noisy": noisy}, start_timeout_s=START_S) as host:
        began = time.monotonic()
        with pytest.raises(McpServerError) as caught:
            host.tools("noisy")
        assert time.monotonic() - began < START_S / 2  # no wait for the start timeout
        message = str(caught.value)
        assert 'MCP server "noisy"' in message and "not MCP protocol" in message
        assert "Noisy MCP server v1.0 ready" in message  # what it wrote, quoted
        assert host.status("noisy").state == "failed"


def test_a_server_that_prints_on_stdout_mid_session_is_a_clear_error() -> None:
    rogue = StdioServer(name="rogue", command=sys.executable, args=(str(SERVERS / "rogue.py"),))
    with McpHost({"rogue": rogue}, start_timeout_s=START_S) as host:
        (shout,) = host.specs(["rogue"])
        assert shout.name == "rogue__shout"
        with pytest.raises(McpServerError) as caught:
            host.call(shout, {}, timeout_s=10)
        message = str(caught.value)
        assert 'MCP server "rogue"' in message and "not MCP protocol" in message
        assert "debug: shout was called" in message
        assert host.status("rogue").state == "failed"
        # The next call starts it afresh (and it misbehaves again, reported the same way).
        with pytest.raises(McpServerError, match="debug: shout was called"):
            host.call(shout, {}, timeout_s=10)


def test_a_reply_that_is_not_json_is_a_clear_error() -> None:
    # Reads the handshake's first request and answers it with a Python traceback.
    code = ("import sys; sys.stdin.readline(); "
            "print('Traceback (most recent call last): oops', flush=True); "
            "import time; time.sleep(30)")
    with McpHost({"mid": python_server("mid", code)}, start_timeout_s=START_S) as host:
        with pytest.raises(McpServerError, match=r'"mid".*Traceback \(most recent call'):
            host.start("mid")


def test_a_server_that_never_answers_is_cut_off_by_the_start_timeout() -> None:
    silent = python_server("silent", "import time; time.sleep(60)")
    with McpHost({"silent": silent}, start_timeout_s=1.5) as host:
        began = time.monotonic()
        with pytest.raises(McpServerError, match=r'"silent" did not finish starting within 1.5 s'):
            host.start("silent")
        assert time.monotonic() - began < 4
        assert host.status("silent").state == "failed"


def test_a_server_that_exits_at_once_shows_its_stderr() -> None:
    code = "import sys; sys.stderr.write('API_KEY is not set\\n'); sys.exit(2)"
    with McpHost({"quitter": python_server("quitter", code)}, start_timeout_s=START_S) as host:
        with pytest.raises(McpServerError) as caught:
            host.tools("quitter")
        assert '"quitter"' in str(caught.value) and "API_KEY is not set" in str(caught.value)
        assert "API_KEY is not set" in host.status("quitter").stderr_tail


def test_a_command_that_does_not_exist() -> None:
    missing = StdioServer(name="ghost", command="glassbox-no-such-mcp-server")
    with McpHost({"ghost": missing}) as host:
        with pytest.raises(McpServerError) as caught:
            host.specs(["ghost"])
        message = str(caught.value)
        assert '"ghost"' in message and '"glassbox-no-such-mcp-server" was not found' in message
        assert host.status("ghost").state == "failed"


def test_a_working_directory_that_does_not_exist() -> None:
    lost = StdioServer(name="lost", command=sys.executable, args=("-c", "pass"),
                       cwd="/no/such/folder/for/glassbox")
    with McpHost({"lost": lost}) as host, pytest.raises(
            McpServerError, match='"lost" could not start: its working folder '
                                  '"/no/such/folder/for/glassbox" .* does not exist'):
        host.start("lost")


def test_a_command_that_is_not_a_program(tmp_path: Path) -> None:
    folder = StdioServer(name="folder", command=str(tmp_path))
    with McpHost({"folder": folder}) as host, pytest.raises(
            McpServerError, match=f'"folder" could not start: "{tmp_path}" is not an executable'):
        host.start("folder")
