"""Shared bits of the agent tests: greedy sampling, a calculator whose schema holds a small
model to one operation between two numbers, and a consent that records what it was asked."""

from __future__ import annotations

from dataclasses import replace

from core.engine.types import SamplingSettings
from core.tools.builtins import CALCULATOR, BuiltinTool, builtin_tools
from core.tools.types import Decision, ToolCall, ToolSpec

GREEDY = SamplingSettings(temperature=0.0, top_k=1, seed=7, max_tokens=40, repeat_penalty=1.0)
# The real calculator, offered with a stricter schema: the grammar then admits only
# "<number> <op> <number>", so the bundled 135M model writes an expression that computes.
STRICT_CALCULATOR = replace(CALCULATOR, parameters={
    "type": "object", "required": ["expression"],
    "properties": {"expression": {
        "type": "string", "pattern": "^[1-9][0-9]{0,3} [-+*] [1-9][0-9]{0,3}$"}}})


def strict_calculator() -> BuiltinTool:
    return BuiltinTool(STRICT_CALCULATOR, builtin_tools(["calculator"])[0].run)


class Consent:
    def __init__(self, *answers: Decision) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, dict[str, object], str]] = []

    def __call__(self, call: ToolCall, spec: ToolSpec) -> Decision:
        self.asked.append((call.name, call.arguments, spec.source))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
