"""Tool calls on /v1/chat/completions: the tools described to the model in a system message,
its output held to a tool call by a grammar, and the call read back in OpenAI's shape.

The model writes one JSON object, `{"name": ..., "arguments": {...}}`; the grammar comes from
a JSON schema (one alternative per tool, each with its own parameters), so the arguments
always parse and match the tool's schema. With `tool_choice: "auto"` the grammar also allows
plain text that does not start with `{`, and the first character says which the model chose.
One call per reply: small local models rarely make good parallel calls, and one is what the
grammar can keep simple.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from core.server import completions as shared
from core.server.errors import ApiError

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # OpenAI's rule for function names
_EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}
# Plain text for "auto": anything that does not open with "{" or white space, so the first
# character tells a call from an answer while the reply streams.
_TEXT_RULES = 'root ::= tool-call | free-text\nfree-text ::= [^{ \\t\\r\\n] [^\\x00]*\n'


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolPlan:
    """What a request with tools changes: the instructions the model reads, the grammar its
    output must match, and whether plain text is allowed instead of a call."""

    tools: tuple[Tool, ...]
    instructions: str
    grammar: str
    optional: bool  # tool_choice "auto": the model may answer in text


def plan_for(tools: list[dict[str, Any]] | None, tool_choice: str | dict[str, Any] | None
             ) -> ToolPlan | None:
    """The plan for a request's `tools` and `tool_choice`, or None when no tool can be called
    (no tools, or tool_choice "none"). Bad definitions are a 400 naming the field."""
    if not tools:
        if tool_choice not in (None, "none"):
            raise ApiError(400, "tool_choice needs tools to choose from.", param="tool_choice")
        return None
    parsed = tuple(_tool(spec, i) for i, spec in enumerate(tools))
    names = [t.name for t in parsed]
    if len(set(names)) != len(names):
        raise ApiError(400, "Two tools have the same name.", param="tools")
    choice = "auto" if tool_choice is None else tool_choice
    if choice == "none":
        return None
    if isinstance(choice, dict):
        wanted = (choice.get("function") or {}).get("name") \
            if choice.get("type") == "function" else None
        if wanted not in names:
            raise ApiError(400, "tool_choice must be 'none', 'auto', 'required' or "
                           "{'type': 'function', 'function': {'name': ...}} naming one of "
                           f"the tools ({', '.join(names)}).", param="tool_choice")
        callable_tools = tuple(t for t in parsed if t.name == wanted)
        optional = False
    elif choice in ("auto", "required"):
        callable_tools, optional = parsed, choice == "auto"
    else:
        raise ApiError(400, f"tool_choice {choice!r} is not one of 'none', 'auto', "
                       "'required' or a named function.", param="tool_choice")
    grammar = shared.schema_grammar(_call_schema(callable_tools), "tools")
    if optional:
        grammar = _with_text(grammar)
    return ToolPlan(parsed, _instructions(parsed, callable_tools, optional), grammar, optional)


def _tool(spec: Any, i: int) -> Tool:
    where = f"tools[{i}]"
    if not isinstance(spec, dict) or spec.get("type", "function") != "function" \
            or not isinstance(spec.get("function"), dict):
        raise ApiError(400, f"{where} must be {{'type': 'function', 'function': {{...}}}}.",
                       param=where)
    function = spec["function"]
    name = function.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ApiError(400, f"{where}.function.name must be 1 to 64 letters, digits, '_' or "
                       f"'-' (got {name!r}).", param=f"{where}.function.name")
    parameters = function.get("parameters", _EMPTY_PARAMETERS)
    param = f"{where}.function.parameters"
    if not isinstance(parameters, dict):
        raise ApiError(400, f"{param} must be a JSON schema object.", param=param)
    shared.schema_grammar(parameters, param)  # a schema the converter cannot use: 400 here
    description = function.get("description") or ""
    return Tool(name, str(description), parameters)


def _call_schema(tools: tuple[Tool, ...]) -> dict[str, Any]:
    def one(tool: Tool) -> dict[str, Any]:
        return {"type": "object",
                "properties": {"name": {"const": tool.name}, "arguments": tool.parameters},
                "required": ["name", "arguments"], "additionalProperties": False}

    if len(tools) == 1:
        return one(tools[0])
    return {"oneOf": [one(t) for t in tools]}


def _with_text(call_grammar: str) -> str:
    """The call's grammar under the name `tool-call`, beside plain text."""
    renamed = re.sub(r"^root ::=", "tool-call ::=", call_grammar, count=1, flags=re.M)
    return _TEXT_RULES + renamed


def _instructions(tools: tuple[Tool, ...], callable_tools: tuple[Tool, ...],
                  optional: bool) -> str:
    lines = ["You can call these tools:"]
    for tool in tools:
        lines.append(f"- {tool.name}: {tool.description or '(no description)'} "
                     f"Arguments (JSON schema): {json.dumps(tool.parameters)}")
    form = '{"name": "<tool name>", "arguments": {<the arguments>}}'
    if optional:
        lines.append(f"To call a tool, reply with only a JSON object: {form}. If no tool "
                     "is needed, answer in plain text.")
    elif len(callable_tools) == 1 and len(tools) > 1:
        lines.append(f"Call the tool {callable_tools[0].name} now: reply with only a JSON "
                     f"object: {form}.")
    else:
        lines.append(f"Call a tool now: reply with only a JSON object: {form}.")
    return "\n".join(lines)


def with_instructions(messages: tuple[Any, ...], plan: ToolPlan) -> tuple[Any, ...]:
    """The tools described in the system message (joined to the client's own, as many chat
    templates take only one system message, and only first)."""
    from core.engine.types import ChatMessage

    if messages and messages[0].role == "system":
        first = ChatMessage("system", f"{messages[0].content}\n\n{plan.instructions}")
        return (first, *messages[1:])
    return (ChatMessage("system", plan.instructions), *messages)


def looks_like_call(text: str) -> bool:
    """Whether a reply (or the start of a streamed one) is a tool call rather than text."""
    return text.lstrip().startswith("{")


def parse_call(text: str) -> dict[str, Any] | None:
    """The reply as an OpenAI tool call, or None when it is not a complete call (plain text,
    or JSON cut off by max_tokens)."""
    if not looks_like_call(text):
        return None
    try:
        call = json.loads(text)
    except ValueError:
        return None
    if not isinstance(call, dict) or not isinstance(call.get("name"), str):
        return None
    return {"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
            "function": {"name": call["name"],
                         "arguments": json.dumps(call.get("arguments", {}),
                                                 ensure_ascii=False)}}


def call_text(tool_calls: list[dict[str, Any]]) -> str:
    """An earlier assistant turn's tool calls written as the model is asked to write them, so
    a conversation that goes on reads consistently."""
    written = []
    for call in tool_calls:
        function = call.get("function", call)
        arguments = function.get("arguments", {})
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                pass  # kept as the client sent it
        written.append(json.dumps({"name": function.get("name"), "arguments": arguments},
                                  ensure_ascii=False))
    return "\n".join(written)
