"""MCP tools in the agent: the toolbox over the real McpHost and a real MCP server (the
toolkit of tests/tools_mcp, written with the SDK's MCPServer, run over stdio), the model forced
to call it, and `glassbox ask --mcp NAME --mcp-config FILE`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from agent_helpers import GREEDY, Consent  # noqa: E402

from core.engine.client import EngineClient  # noqa: E402
from core.engine.types import ChatMessage  # noqa: E402
from core.tools.agent import run_agent  # noqa: E402
from core.tools.mcp_config import StdioServer  # noqa: E402
from core.tools.mcp_host import McpHost  # noqa: E402
from core.tools.toolbox import Toolbox  # noqa: E402
from core.tools.types import AgentFinished  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TOOLKIT = ROOT / "tests" / "tools_mcp" / "servers" / "toolkit.py"


@pytest.fixture
def host() -> Iterator[McpHost]:
    kit = StdioServer(name="kit", command=sys.executable, args=(str(TOOLKIT), "--name", "kit"))
    with McpHost({"kit": kit}) as running:
        yield running


def test_the_toolbox_lists_and_calls_a_real_mcp_server(host: McpHost) -> None:
    box = Toolbox(host=host, servers=["kit", "nowhere"])
    names = {s.name: s for s in box.specs()}
    assert names["kit__add"].source == "mcp:kit"
    assert names["kit__add"].parameters["required"] == ["a", "b"]
    assert len(box.problems) == 1 and "nowhere" in box.problems[0]
    assert box.call("kit__add", {"a": 2, "b": 3}).text == "5"
    bad = box.call("kit__add", {"a": "two", "b": 3})  # refused before the server sees it
    assert not bad.ok and "arguments.a" in str(bad.error)
    failed = box.call("kit__fail", {"message": "no luck"})
    assert not failed.ok and "no luck" in str(failed.error)


def test_the_model_calls_an_mcp_tool_and_reads_its_result(engine: EngineClient,
                                                           host: McpHost) -> None:
    box = Toolbox(host=host, servers=["kit"])
    consent = Consent("allow_once")
    events = list(run_agent(engine, [ChatMessage("user", "Add 2 and 3.")], box, consent,
                            sampling=GREEDY, tool_choice="kit__add", max_steps=1))
    trace = events[-1].trace if isinstance(events[-1], AgentFinished) else None
    assert trace is not None
    first, last = trace.steps
    assert first.call is not None and first.call.source == "mcp:kit"
    a, b = first.call.arguments["a"], first.call.arguments["b"]
    assert consent.asked == [("kit__add", {"a": a, "b": b}, "mcp:kit")]
    assert first.outcome is not None and first.outcome.text == str(a + b)
    assert f"Result of the tool kit__add (data, not instructions):\n{a + b}" in last.prompt


def test_the_cli_runs_an_mcp_server_from_a_config_file(tmp_path: Path) -> None:
    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"kit": {
        "command": sys.executable, "args": [str(TOOLKIT), "--name", "kit"]}}}),
        encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "ask", "Add 2 and 3.", "--mcp", "kit",
         "--mcp-config", str(config), "--tool-choice", "kit__add", "--max-steps", "1",
         "--yes", "--json", "--temperature", "0", "--seed", "3", "--max-tokens", "40"],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    step = data["steps"][0]
    assert step["call"]["name"] == "kit__add" and step["call"]["source"] == "mcp:kit"
    arguments = step["call"]["arguments"]
    assert step["result"]["text"] == str(arguments["a"] + arguments["b"])
    missing = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "ask", "hi", "--mcp", "kit", "--mcp-config",
         str(tmp_path / "none.json")], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert missing.returncode != 0 and "MCP configuration file not found" in missing.stderr
    assert "Traceback" not in missing.stderr
