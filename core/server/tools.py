"""Tool calls on /v1/chat/completions: the request's `tools` and `tool_choice` read and
checked (a 400 naming the field), then core.tools.protocol's plan: the tools described in a
system message, the output held to one call by a grammar, the call read back in OpenAI's
shape. See core/tools/protocol.py for the protocol itself.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from core.errors import ToolSchemaError
from core.server import completions as shared
from core.server.errors import ApiError
from core.tools import protocol
from core.tools.protocol import ToolPlan, looks_like_call
from core.tools.types import ToolSpec

__all__ = ["ToolPlan", "call_text", "looks_like_call", "parse_call", "plan_for",
           "with_instructions"]

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # OpenAI's rule for function names
_EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}


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
        choice = str(wanted)
    elif choice not in ("auto", "required"):
        raise ApiError(400, f"tool_choice {choice!r} is not one of 'none', 'auto', "
                       "'required' or a named function.", param="tool_choice")
    try:
        return protocol.plan(parsed, choice)
    except ToolSchemaError as exc:
        raise ApiError(400, str(exc), code="unsupported_schema", param="tools") from exc


def _tool(spec: Any, i: int) -> ToolSpec:
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
    return ToolSpec(name, str(description), parameters, source="request")


def with_instructions(messages: tuple[Any, ...], plan: ToolPlan) -> tuple[Any, ...]:
    """The tools described in the system message (joined to the client's own, as many chat
    templates take only one system message, and only first)."""
    return protocol.with_instructions(messages, plan.instructions)


def parse_call(text: str) -> dict[str, Any] | None:
    """The reply as an OpenAI tool call, or None when it is not a complete call (plain text,
    or JSON cut off by max_tokens)."""
    call = protocol.parse_call(text)
    if call is None:
        return None
    name, arguments = call
    return {"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)}}


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
