"""The calculator: arithmetic over Python's ast, never eval, with limits on size."""

from __future__ import annotations

import math

import pytest

from core.errors import ToolError
from core.tools.builtins import MAX_EXPONENT, builtin_tools, calculate, canonical


@pytest.mark.parametrize(("expression", "expected"), [
    ("17 * 23", 17 * 23), ("(2 + 3) * 4", 20), ("7 // 2", 3), ("7 % 4", 3), ("2 ** 10", 1024),
    ("-3 + +5", 2), ("1 / 4", 0.25), ("2^8", 256), ("sqrt(16) + abs(-2)", 6.0),
    ("max(1, 9, 4) - min(3, 2)", 7), ("round(2.567, 2)", 2.57), ("factorial(5)", 120),
    ("pi * 2", math.tau), ("log(e)", 1.0),
])
def test_arithmetic_is_computed(expression: str, expected: float) -> None:
    assert calculate(expression) == pytest.approx(expected)


@pytest.mark.parametrize(("expression", "says"), [
    ("__import__('os').system('echo hi')", "not a function the calculator knows"),
    ("open", "Unknown name 'open'"),
    ("x + 1", "Unknown name 'x'"),
    ("(1).__class__", "Attributes"),
    ("math.pi", "Attributes"),
    ("'a' * 3", "Only numbers"),
    ("True + 1", "Only numbers"),
    ("[1, 2]", "not allowed"),
    ("lambda: 1", "not allowed"),
    ("1 if 2 else 3", "not allowed"),
    ("9 ** 9 ** 9", "exponent"),
    (f"2 ** {MAX_EXPONENT + 1}", "exponent"),
    ("999999 ** 9999", "digits"),
    ("factorial(100000)", "too large"),
    ("1 / 0", "Division by zero"),
    ("sqrt(-1)", "no finite value"),
    ("2 +", "not an arithmetic expression"),
    ("", "empty"),
    ("1+" * 400 + "1", "at most"),
])
def test_what_is_not_arithmetic_is_refused_with_a_reason(expression: str, says: str) -> None:
    with pytest.raises(ToolError, match=says.replace("(", r"\(").replace(")", r"\)")):
        calculate(expression)


def test_repeated_squaring_cannot_build_a_huge_number() -> None:
    # Each power is allowed alone; the size check on every intermediate stops the growth.
    with pytest.raises(ToolError, match="digits"):
        calculate("((((((10 ** 100) ** 10) ** 10) ** 10) ** 10) ** 10)")


def test_the_tool_answers_with_text_and_aliases_name_the_builtins() -> None:
    (tool,) = builtin_tools(["calc"])
    assert tool.spec.name == "calculator"
    assert tool.run({"expression": "6 * 7"}) == "42"
    assert tool.run({"expression": "10 / 4"}) == "2.5"
    assert canonical("docs") == "search_documents" and canonical("files") == "read_file"
    with pytest.raises(ToolError, match="no built-in tool 'shell'"):
        canonical("shell")
