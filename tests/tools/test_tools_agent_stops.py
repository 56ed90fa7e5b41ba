"""How an agent run stops or fails without harm: Cancel while the model writes and while the
user decides, a tool that vanished, arguments the grammar let through but the schema refuses,
a schema llama.cpp cannot use (refused before the model runs); and the tools given to a chat
template that reads them (a copy of the bundled model with such a template)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from agent_helpers import GREEDY, Consent, strict_calculator  # noqa: E402

from core.engine.client import EngineClient  # noqa: E402
from core.engine.types import ChatMessage  # noqa: E402
from core.errors import ToolSchemaError  # noqa: E402
from core.tools.agent import run_agent  # noqa: E402
from core.tools.builtins import BuiltinTool, calculate  # noqa: E402
from core.tools.toolbox import Toolbox  # noqa: E402
from core.tools.types import (  # noqa: E402
    AgentFinished,
    AgentTrace,
    CallDecided,
    CallFinished,
    Decision,
    TextPiece,
    ToolCall,
    ToolSpec,
)

QUESTION = [ChatMessage("user", "Use the calculator: what is 12 + 30?")]


def trace_of(events: Iterator[Any]) -> tuple[list[Any], AgentTrace]:
    seen = list(events)
    assert isinstance(seen[-1], AgentFinished)
    return seen, seen[-1].trace


def test_cancel_while_the_model_writes_stops_cleanly(engine: EngineClient) -> None:
    cancel = threading.Event()
    seen: list[Any] = []
    for event in run_agent(engine, QUESTION, Toolbox([strict_calculator()]), Consent("deny"),
                           sampling=GREEDY, tool_choice="calculator", cancel=cancel):
        seen.append(event)
        if isinstance(event, TextPiece):
            cancel.set()
    trace = seen[-1].trace
    assert trace.stop == "cancelled" and len(trace.steps) == 1
    assert not any(isinstance(e, CallDecided) for e in seen)
    assert len(trace.steps[0].raw_output) < 60  # stopped early, not at the end of the call
    # The engine is free for the next request.
    assert engine.render_prompt([ChatMessage("user", "hi")])


def test_cancel_while_the_user_decides_runs_nothing(engine: EngineClient) -> None:
    cancel = threading.Event()
    ran: list[str] = []
    calculator = strict_calculator()

    def run(arguments: dict[str, Any]) -> str:
        ran.append(arguments["expression"])
        return calculator.run(arguments)

    def consent(call: ToolCall, spec: ToolSpec) -> Decision:
        cancel.set()  # the user pressed Cancel instead of answering
        return "allow_once"

    seen, trace = trace_of(run_agent(engine, QUESTION, Toolbox([BuiltinTool(calculator.spec,
                                                                             run)]),
                                     consent, sampling=GREEDY, tool_choice="required",
                                     cancel=cancel))
    assert ran == [] and trace.stop == "cancelled" and len(trace.steps) == 1
    outcome = trace.steps[0].outcome
    assert outcome is not None and not outcome.ok and outcome.error == "cancelled"


class VanishingToolbox(Toolbox):
    """Offers `ghost` to the model, but it is gone by the time the call comes (an MCP server
    that restarted without it)."""

    def spec(self, name: str) -> ToolSpec | None:
        return None if name == "ghost" else super().spec(name)


def test_a_call_of_a_tool_that_is_gone_is_told_to_the_model_without_asking(
        engine: EngineClient) -> None:
    ghost = BuiltinTool(ToolSpec("ghost", "Says boo.", {"type": "object", "properties": {}}),
                        lambda a: "boo")
    consent = Consent("allow_once")
    seen, trace = trace_of(run_agent(engine, [ChatMessage("user", "Say boo.")],
                                     VanishingToolbox([ghost]), consent, sampling=GREEDY,
                                     tool_choice="ghost", max_steps=1))
    assert consent.asked == []
    (finished,) = [e for e in seen if isinstance(e, CallFinished)]
    assert finished.outcome.error == "There is no tool named 'ghost'. The tools are: ghost."
    assert "There is no tool named 'ghost'" in trace.steps[1].prompt
    assert trace.steps[0].decision is None and trace.final_text


def test_arguments_the_grammar_allows_but_the_schema_refuses_reach_the_model_as_an_error(
        engine: EngineClient) -> None:
    # llama.cpp's converter has no rule for multipleOf or exclusiveMinimum: the grammar lets
    # any integer through, jsonschema then refuses what breaks them.
    spec = ToolSpec("pick", "Pick a number.", {
        "type": "object", "required": ["n"],
        "properties": {"n": {"type": "integer", "multipleOf": 1000003, "exclusiveMinimum": 0}}})
    ran: list[Any] = []

    def pick(arguments: dict[str, Any]) -> str:
        ran.append(arguments)
        return "picked"

    seen, trace = trace_of(run_agent(
        engine, [ChatMessage("user", "Pick a number from 1 to 10.")],
        Toolbox([BuiltinTool(spec, pick)]),
        Consent("allow_once"), sampling=GREEDY, tool_choice="pick", max_steps=1))
    outcome = trace.steps[0].outcome
    assert outcome is not None and not outcome.ok and ran == []
    assert outcome.error is not None and outcome.error.startswith("Bad arguments for pick: "
                                                                  "arguments.n: ")
    assert outcome.error in trace.steps[1].prompt


def test_a_schema_llama_cpp_cannot_use_is_refused_before_the_model_runs(
        engine: EngineClient) -> None:
    bad = BuiltinTool(ToolSpec("lookup", "Look up.", {"$ref": "https://example.com/s.json"},
                               source="mcp:wiki"), lambda a: "")
    with pytest.raises(ToolSchemaError, match="'lookup' \\(mcp:wiki\\)"):
        run_agent(engine, QUESTION, Toolbox([strict_calculator(), bad]), Consent("deny"),
                  sampling=GREEDY)
    with pytest.raises(ToolSchemaError, match="max_steps"):
        run_agent(engine, QUESTION, Toolbox([strict_calculator()]), Consent("deny"),
                  sampling=GREEDY, max_steps=0)


TOOLS_TEMPLATE = (
    "{% if tools %}<|im_start|>system\nYou can call these functions:\n{% for tool in tools %}"
    "- {{ tool.function.name }}: {{ tool.function.description }} "
    "{{ tool.function.parameters | tojson }}\n{% endfor %}"
    'Reply with {"name": ..., "arguments": ...} to call one.<|im_end|>\n{% endif %}'
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


@pytest.fixture(scope="module")
def tools_model(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled model with a chat template that reads `tools` (written with gguf's own
    metadata tool, as a model maker would)."""
    out = tmp_path_factory.mktemp("tools-model") / "smollm2-tools.gguf"
    subprocess.run([sys.executable, "-m", "gguf.scripts.gguf_new_metadata", str(model_path),
                    str(out), "--chat-template", TOOLS_TEMPLATE, "--force"],
                   check=True, capture_output=True, timeout=300)
    return out


def test_a_template_that_reads_tools_is_given_them(tools_model: Path) -> None:
    with EngineClient() as engine:
        info = engine.load(tools_model, n_ctx=2048)
        assert info.template_tools
        plain = engine.render_prompt([ChatMessage("user", "hi")])  # no tools: none shown
        assert "functions" not in plain and plain.endswith("<|im_start|>assistant\n")
        seen, trace = trace_of(run_agent(engine, QUESTION, Toolbox([strict_calculator()]),
                                         Consent("allow_once"), sampling=GREEDY,
                                         tool_choice="calculator", max_steps=1))
    assert trace.protocol == "template"
    first, last = trace.steps
    assert first.prompt.startswith("<|im_start|>system\nYou can call these functions:\n"
                                   "- calculator: ")
    assert '"pattern": "^[1-9][0-9]{0,3} [-+*] [1-9][0-9]{0,3}$"' in first.prompt
    assert "You can call these tools:" not in first.prompt  # not the generic protocol
    assert first.call is not None
    result = str(calculate(first.call.arguments["expression"]))
    assert f"<|im_start|>tool\n{result}<|im_end|>" in last.prompt
