"""The built-in tools, each off until the user turns it on for a chat (ChatTools.builtins):

- `calculator`: arithmetic over Python's `ast` (never `eval`): numbers, + - * / // % **,
  signs, parentheses and a short list of math functions and constants, with limits on the
  exponent and on the size of every intermediate number.
- `search_documents`: passages from the chat's document collections, with file and page.
- `read_file`: a text file inside the folders the user allowed (real paths compared, so
  `..` and symbolic links cannot leave them), up to a size cap.
- `current_datetime`: the local date and time with the time zone.

Each raises ToolError with a message the model (and the person reading the trace) can act
on; the agent passes it to the model and the chat goes on.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from core.errors import ToolError
from core.tools.types import ToolSpec

BUILTIN_NAMES = ("calculator", "search_documents", "read_file", "current_datetime")
# Short names for the command line (`glassbox ask --tools calculator,docs,files,datetime`).
ALIASES = {"calc": "calculator", "docs": "search_documents", "documents": "search_documents",
           "files": "read_file", "file": "read_file", "datetime": "current_datetime",
           "time": "current_datetime", "date": "current_datetime"}

MAX_EXPRESSION_CHARS = 500
MAX_EXPONENT = 10_000
MAX_INT_BITS = 20_000  # about 6,000 digits: far past any sum a person asks a chat for
MAX_FACTORIAL = 1_000
MAX_FILE_BYTES = 200_000
SEARCH_TOP_K = 4
MAX_PATH_CHARS = 100

_Number = int | float


@dataclass(frozen=True)
class BuiltinTool:
    spec: ToolSpec
    run: Callable[[dict[str, Any]], str]


def canonical(name: str) -> str:
    """The built-in tool's own name for a name or alias; ToolError for an unknown one."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in BUILTIN_NAMES:
        raise ToolError(f"There is no built-in tool {name!r}; the built-ins are "
                        f"{', '.join(BUILTIN_NAMES)} (or calc, docs, files, datetime).")
    return key


# -- calculator -------------------------------------------------------------------------------
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos, ast.USub: operator.neg}
_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau, "inf": math.inf}


def _factorial(n: _Number) -> int:
    if not isinstance(n, int) or n < 0:
        raise ToolError("factorial takes a whole number of 0 or more.")
    if n > MAX_FACTORIAL:
        raise ToolError(f"factorial({n}) is too large; the calculator stops at "
                        f"factorial({MAX_FACTORIAL}).")
    return math.factorial(n)


_FUNCTIONS: dict[str, Callable[..., _Number]] = {
    "sqrt": math.sqrt, "exp": math.exp, "log": math.log, "log10": math.log10,
    "log2": math.log2, "sin": math.sin, "cos": math.cos, "tan": math.tan, "asin": math.asin,
    "acos": math.acos, "atan": math.atan, "atan2": math.atan2, "hypot": math.hypot,
    "degrees": math.degrees, "radians": math.radians, "floor": math.floor, "ceil": math.ceil,
    "abs": abs, "round": round, "min": min, "max": max, "factorial": _factorial,
}


def calculate(expression: str) -> _Number:
    """The value of an arithmetic expression; ToolError for anything else."""
    text = expression.strip()
    if not text:
        raise ToolError("The expression is empty.")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ToolError(f"The expression is {len(text)} characters long; the calculator "
                        f"takes at most {MAX_EXPRESSION_CHARS}.")
    try:
        tree = ast.parse(text.replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"{expression!r} is not an arithmetic expression ({exc.msg}).") from None
    try:
        return _value(tree.body)
    except ZeroDivisionError:
        raise ToolError("Division by zero.") from None
    except (OverflowError, ValueError) as exc:
        raise ToolError(f"The expression has no finite value ({exc}).") from None


def _value(node: ast.AST) -> _Number:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise ToolError(f"Only numbers are allowed, not {node.value!r}.")
        return _checked(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        return _checked(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _checked(_UNARY[type(node.op)](_value(node.operand)))
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise ToolError(f"Unknown name {node.id!r}; the calculator knows the constants "
                        f"{', '.join(_CONSTANTS)} and the functions {', '.join(_FUNCTIONS)}.")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
            shown = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise ToolError(f"{shown!r} is not a function the calculator knows; it knows "
                            f"{', '.join(_FUNCTIONS)}.")
        if node.keywords or len(node.args) > 8:
            raise ToolError(f"{node.func.id} takes a few numbers, without names.")
        args = [_value(a) for a in node.args]
        try:
            return _checked(_FUNCTIONS[node.func.id](*args))
        except TypeError as exc:
            raise ToolError(f"{node.func.id}: {exc}.") from None
    if isinstance(node, ast.Attribute):
        raise ToolError(f"Attributes ({ast.unparse(node)}) are not allowed: only numbers, "
                        "operators and the listed functions.")
    raise ToolError(f"{ast.unparse(node)!r} is not allowed in the calculator: only numbers, "
                    "+ - * / // % **, parentheses and the listed functions.")


def _check_power(base: _Number, exponent: _Number) -> None:
    if abs(exponent) > MAX_EXPONENT:
        raise ToolError(f"The exponent {exponent} is too large; the calculator allows up to "
                        f"{MAX_EXPONENT}.")
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 \
            and abs(base) > 1 and base.bit_length() * exponent > MAX_INT_BITS * 2:
        raise ToolError(f"{base} ** {exponent} would have about "
                        f"{int(exponent * math.log10(abs(base))):,} digits; the calculator "
                        f"stops at about {int(MAX_INT_BITS * math.log10(2)):,}.")


def _checked(value: Any) -> _Number:
    if isinstance(value, complex):
        raise ToolError("The result is a complex number; the calculator works with real "
                        "numbers only.")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ToolError(f"A number in the calculation has more than "
                        f"{int(MAX_INT_BITS * math.log10(2)):,} digits; the calculator stops "
                        "there.")
    return value  # type: ignore[no-any-return]


def _calculator(arguments: dict[str, Any]) -> str:
    value = calculate(str(arguments.get("expression", "")))
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


CALCULATOR = ToolSpec(
    "calculator",
    "Evaluate an arithmetic expression exactly, e.g. '(17 + 5) * 3' or 'sqrt(2) / 2'. "
    "Supports + - * / // % ** and sqrt, log, sin, cos, tan, exp, floor, ceil, round, "
    "abs, min, max, factorial, pi, e.",
    {"type": "object",
     # The pattern keeps a small model's string to arithmetic: without it the grammar lets
     # the expression run on into prose until the token limit.
     "properties": {"expression": {"type": "string", "description": "the expression",
                                   "pattern": "^[-+*/%^()., 0-9a-z_]+$"}},
     "required": ["expression"]})


# -- current date and time --------------------------------------------------------------------
CURRENT_DATETIME = ToolSpec(
    "current_datetime", "The current local date, time, weekday and time zone.",
    {"type": "object", "properties": {}})


def _current_datetime(arguments: dict[str, Any]) -> str:
    now = datetime.now().astimezone()
    return f"{now:%A %Y-%m-%d %H:%M:%S} {now.tzname() or ''} (UTC{now:%z})".replace("  ", " ")


# -- search my documents ----------------------------------------------------------------------
SearchFn = Callable[[str, Sequence[str], int], Sequence[Any]]  # as core.rag.grounding's

SEARCH_DOCUMENTS = ToolSpec(
    "search_documents",
    "Search the user's documents for passages about a question; returns passages with the "
    "file and page they come from.",
    {"type": "object",
     "properties": {"query": {"type": "string", "description": "what to look for"}},
     "required": ["query"]})


def search_documents_tool(search: SearchFn | None, collections: Sequence[str]
                      ) -> Callable[[dict[str, Any]], str]:
    def run(arguments: dict[str, Any]) -> str:
        query = str(arguments.get("query", "")).strip()
        if not query:
            raise ToolError("The search query is empty.")
        if search is None or not collections:
            raise ToolError("This chat has no document collections to search; add one to the "
                            "chat (Documents) first.")
        hits = search(query, list(collections), SEARCH_TOP_K)
        if not hits:
            return f"No passage in {', '.join(collections)} matches {query!r}."
        parts = []
        for n, hit in enumerate(hits, start=1):
            where = Path(str(getattr(hit, "path", "?"))).name
            page = getattr(hit, "page", None)
            where += f", page {page}" if page is not None else ""
            parts.append(f"[{n}] {where}\n{str(getattr(hit, 'text', '')).strip()}")
        return "\n\n".join(parts)

    return run


# -- read a file in allowed folders -----------------------------------------------------------
READ_FILE = ToolSpec(
    "read_file",
    "Read a text file from the folders the user allowed. Give a path relative to one of them "
    "(or absolute inside one).",
    {"type": "object",
     # maxLength: the grammar then ends the path where a small model would ramble on.
     "properties": {"path": {"type": "string", "description": "the file's path",
                             "maxLength": MAX_PATH_CHARS}},
     "required": ["path"]})


def resolve_allowed(path: str, folders: Sequence[str | Path]) -> Path:
    """The real path of `path` when it lies inside one of `folders` (after following every
    symbolic link and `..`); ToolError otherwise."""
    if not folders:
        raise ToolError("No folder is allowed for reading files in this chat; allow one first "
                        "(the chat's tool settings, or --allow-folder).")
    if not path.strip() or "\x00" in path:
        raise ToolError("The file path is empty or not a path.")
    roots = [Path(f).expanduser().resolve() for f in folders]
    given = Path(path).expanduser()
    candidates = [given] if given.is_absolute() else [root / given for root in roots]
    inside = []
    for candidate in candidates:
        real = candidate.resolve()  # follows links and `..`: what would really be opened
        if any(real == root or real.is_relative_to(root) for root in roots):
            if real.exists():
                return real
            inside.append(real)
    if inside:
        return inside[0]  # not there: read_allowed_file says so
    raise ToolError(f"{path!r} is outside the folders allowed for reading "
                    f"({', '.join(str(r) for r in roots)}); following `..` or links out of "
                    "them is refused.")


def read_allowed_file(path: str, folders: Sequence[str | Path],
                      max_bytes: int = MAX_FILE_BYTES) -> str:
    real = resolve_allowed(path, folders)
    if not real.exists():
        raise ToolError(f"There is no file {path!r} in the allowed folders.")
    if not real.is_file():
        raise ToolError(f"{path!r} is a folder or a device, not a file.")
    size = real.stat().st_size
    if size > max_bytes:
        raise ToolError(f"{path!r} is {size:,} bytes; the file tool reads files up to "
                        f"{max_bytes:,} bytes.")
    data = real.read_bytes()
    if b"\x00" in data[:8192]:
        raise ToolError(f"{path!r} is not a text file (it holds binary data).")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolError(f"{path!r} is not UTF-8 text.") from None


def _read_file(folders: Sequence[str | Path]) -> Callable[[dict[str, Any]], str]:
    def run(arguments: dict[str, Any]) -> str:
        return read_allowed_file(str(arguments.get("path", "")), folders)

    return run


# -- the set ----------------------------------------------------------------------------------
def builtin_tools(names: Sequence[str], *, search: SearchFn | None = None,
                  collections: Sequence[str] = (),
                  allowed_folders: Sequence[str | Path] = ()) -> list[BuiltinTool]:
    """The built-in tools named (names or aliases, each once, in the order given)."""
    chosen = list(dict.fromkeys(canonical(n) for n in names if n.strip()))
    made = {
        "calculator": lambda: BuiltinTool(CALCULATOR, _calculator),
        "current_datetime": lambda: BuiltinTool(CURRENT_DATETIME, _current_datetime),
        "search_documents": lambda: BuiltinTool(SEARCH_DOCUMENTS,
                                                search_documents_tool(search, collections)),
        "read_file": lambda: BuiltinTool(READ_FILE, _read_file(allowed_folders)),
    }
    return [made[name]() for name in chosen]
