"""The MCP host over stdio with real servers: tools listed with descriptions and schemas, calls
routed by the names the model sees, results as text, error results as ToolError, and no child
left behind after close."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from conftest import process_gone, toolkit

from core.errors import McpServerError, ToolError
from core.tools.mcp_host import McpHost
from core.tools.mcp_results import qualified_name
from core.tools.types import ToolSpec

OPENAI_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@pytest.fixture(scope="module")
def host() -> Iterator[McpHost]:
    """Two copies of the same server under two names: every tool name clashes."""
    with McpHost({"alpha": toolkit("alpha"), "beta": toolkit("beta")}) as shared:
        yield shared


def by_name(specs: list[ToolSpec]) -> dict[str, ToolSpec]:
    return {spec.name: spec for spec in specs}


def test_tools_are_listed_with_descriptions_and_schemas(host: McpHost) -> None:
    tools = by_name(host.tools("alpha"))
    assert {"add", "echo", "fail", "slow", "crash", "huge", "picture", "pid"} <= set(tools)
    add = tools["add"]
    assert add.description == "Add two integers and return their sum."
    assert add.source == "mcp:alpha"
    assert add.parameters["type"] == "object"
    assert add.parameters["properties"]["a"]["type"] == "integer"
    assert sorted(add.parameters["required"]) == ["a", "b"]
    status = host.status("alpha")
    assert (status.state, status.transport, status.tools) == ("ready", "stdio", len(tools))
    assert "toolkit alpha starting" in status.stderr_tail  # its stderr is kept


def test_same_tool_names_stay_distinct_and_route_right(host: McpHost) -> None:
    specs = host.specs(["alpha", "beta"])
    names = [spec.name for spec in specs]
    assert len(names) == len(set(names)) == 2 * len(host.tools("alpha"))
    assert all(OPENAI_NAME.match(name) for name in names)
    specs_by_name = by_name(specs)
    assert specs_by_name["alpha__echo"].source == "mcp:alpha"
    assert host.call(specs_by_name["alpha__echo"], {"text": "hi"}, 10) == "alpha: hi"
    assert host.call(specs_by_name["beta__echo"], {"text": "hi"}, 10) == "beta: hi"


def test_a_call_returns_the_tools_text(host: McpHost) -> None:
    add = by_name(host.specs(["alpha"]))["alpha__add"]
    assert host.call(add, {"a": 20, "b": 22}, 10) == "42"
    # A server's own tool name with its source reaches the same tool.
    own = by_name(host.tools("beta"))["add"]
    assert host.call(own, {"a": -5, "b": 2}, 10) == "-3"


def test_an_error_result_raises_tool_error_with_the_servers_text(host: McpHost) -> None:
    fail = by_name(host.specs(["alpha"]))["alpha__fail"]
    with pytest.raises(ToolError) as caught:
        host.call(fail, {"message": "the disk is on fire"}, 10)
    assert not isinstance(caught.value, McpServerError)  # the server is fine
    assert "the disk is on fire" in str(caught.value)
    assert '"fail"' in str(caught.value) and '"alpha"' in str(caught.value)
    assert host.status("alpha").state == "ready"


def test_arguments_the_server_rejects_are_a_tool_error(host: McpHost) -> None:
    add = by_name(host.specs(["beta"]))["beta__add"]
    with pytest.raises(ToolError, match="a") as caught:
        host.call(add, {"a": "not a number", "b": 1}, 10)
    assert not isinstance(caught.value, McpServerError)
    assert host.status("beta").state == "ready"


def test_non_text_content_is_described_in_words(host: McpHost) -> None:
    picture = by_name(host.specs(["alpha"]))["alpha__picture"]
    text = host.call(picture, {}, 10)
    assert text.startswith("[image (image/png,") and "bytes" in text


def test_a_50_mb_result_arrives_whole(host: McpHost) -> None:
    # The SDK's own stdio reader takes time in the square of a message's length (20 MB: 33 s
    # here); core/tools/mcp_stdio.py reads in linear time. Truncating is the agent's job.
    huge = by_name(host.specs(["beta"]))["beta__huge"]
    size = 50 * 1024 * 1024
    text = host.call(huge, {"n": size}, 60)
    assert len(text) == size and text == "x" * size


def test_a_message_over_the_limit_ends_the_connection_clearly(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from core.tools import mcp_stdio

    monkeypatch.setattr(mcp_stdio, "MAX_MESSAGE_BYTES", 2 * 1024 * 1024)
    with McpHost({"kit": toolkit("kit")}) as host:
        huge = by_name(host.specs(["kit"]))["kit__huge"]
        assert host.call(huge, {"n": 1000}, 10) == "x" * 1000
        with pytest.raises(McpServerError, match='"kit" .*wrote a message over 2 MB'):
            host.call(huge, {"n": 3 * 1024 * 1024}, 30)


def test_unknown_server_and_tool_names_are_clear(host: McpHost) -> None:
    with pytest.raises(McpServerError, match='No MCP server named "gamma"'):
        host.tools("gamma")
    ghost = ToolSpec(name="alpha__ghost", description="", parameters={}, source="mcp:alpha")
    with pytest.raises(ToolError, match="ghost"):
        host.call(ghost, {}, 10)
    builtin = ToolSpec(name="calculator", description="", parameters={})
    with pytest.raises(ToolError, match="not a tool of any MCP server"):
        host.call(builtin, {}, 10)


def test_qualified_names_fit_the_openai_rule_and_never_meet() -> None:
    assert qualified_name("files", "read") == "files__read"
    odd = [("my server", "read file"), ("my_server", "read_file"), ("a.b", "c"), ("a_b", "c"),
           ("s" * 80, "t" * 80), ("s" * 80, "t" * 81), ("ü", "ß"), ("a__b", "c"), ("a", "b__c")]
    names = [qualified_name(server, tool) for server, tool in odd]
    assert all(OPENAI_NAME.match(name) for name in names), names
    assert len(set(names)) == len(names)


def test_closing_the_host_leaves_no_child_process() -> None:
    host = McpHost({"one": toolkit("one"), "two": toolkit("two")})
    pids = [int(host.call(by_name(host.specs([n]))[f"{n}__pid"], {}, 10)) for n in ("one", "two")]
    assert len(set(pids)) == 2 and all(not process_gone(pid, within_s=0) for pid in pids)
    # A new configuration: "one" removed, "two" unchanged (left running), "three" added.
    host.configure({"two": toolkit("two"), "three": toolkit("three")})
    assert host.servers() == ["two", "three"] and process_gone(pids[0])
    assert not process_gone(pids[1], within_s=0) and host.status("two").state == "ready"
    assert host.status("three").state == "stopped"
    with pytest.raises(McpServerError, match='No MCP server named "one"'):
        host.status("one")
    host.close()
    assert all(process_gone(pid) for pid in pids)
    assert host.status("two").state == "stopped"
    with pytest.raises(McpServerError, match="closed"):
        host.tools("two")
    host.close()  # twice is fine
