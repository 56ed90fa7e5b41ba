"""The tools one chat (or one `glassbox ask`) may call: the built-ins turned on, and the tools
of the MCP servers chosen, behind one `call` that never raises for the tool's sake.

A call checks the arguments against the tool's JSON schema (the message names the field),
runs the tool with a timeout, and hands back a ToolOutcome: the result is untrusted text,
cut to a cap for the model (with a note of how much was cut) and scanned for passages that
read like instructions to the model, which are listed in `suspicious` so they can be shown
as such. An unknown tool, bad arguments, a timeout, a crash: each is an outcome with a
message the model reads and the chat goes on.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from core.errors import Cancelled, GlassboxError, McpServerError, ToolError
from core.tools.builtins import (
    SEARCH_DOCUMENTS,
    BuiltinTool,
    SearchFn,
    builtin_tools,
    search_documents_tool,
)
from core.tools.types import ChatTools, ToolOutcome, ToolSpec

log = logging.getLogger(__name__)

MAX_RESULT_CHARS = 8_000  # what the model gets of a result: a small model's window is short
DEFAULT_TIMEOUT_S = 30.0
_SUSPICIOUS_SHOWN = 200

# Phrases that address the model rather than inform it: a tool's result (a web page, a file,
# a server's answer) that says them is trying to steer the model, and the user should know.
_INSTRUCTION_LIKE = re.compile(
    r"(ignore|disregard|forget|override)\s+(all\s+|any\s+|the\s+|your\s+)*"
    r"(previous|prior|above|earlier|preceding|system)?\s*(instructions|messages|prompts?|rules)"
    r"|\byou\s+are\s+now\b|\bfrom\s+now\s+on\s*,?\s+you\b|\bnew\s+instructions?\s*:"
    r"|^\s*(system|assistant|developer)\s*:|<\|im_start\|>|<\|system\|>|\[INST\]|<<SYS>>"
    r"|\bdo\s+not\s+(tell|inform|show)\s+the\s+user\b|\bpretend\s+(to\s+be|you\s+are)\b"
    r"|\b(reveal|print|repeat)\s+(your|the)\s+system\s+prompt\b",
    re.IGNORECASE | re.MULTILINE)


class ToolHost(Protocol):
    """What the toolbox needs of an MCP host (core.tools.mcp_host.McpHost)."""

    def specs(self, servers: Sequence[str]) -> list[ToolSpec]: ...

    def call(self, spec: ToolSpec, arguments: dict[str, Any], timeout_s: float,
             *, cancel: threading.Event | None = None) -> str: ...


def suspicious_passages(text: str) -> tuple[str, ...]:
    """The lines of `text` that read like instructions to the model (each once, shortened)."""
    found: list[str] = []
    for match in _INSTRUCTION_LIKE.finditer(text):
        start = text.rfind("\n", 0, match.start()) + 1
        end = text.find("\n", match.end())
        line = text[start:end if end >= 0 else len(text)].strip()
        if len(line) > _SUSPICIOUS_SHOWN:
            around = max(match.start() - start - 40, 0)
            line = line[around:around + _SUSPICIOUS_SHOWN].strip() + "…"
        if line not in found:
            found.append(line)
        if len(found) >= 20:
            break
    return tuple(found)


def truncated(text: str, cap: int) -> tuple[str, bool]:
    """`text` cut to `cap` characters with a note saying how much was left out."""
    if len(text) <= cap:
        return text, False
    note = (f"\n[… result truncated: showing {cap:,} of {len(text):,} characters; "
            f"{len(text) - cap:,} were cut]")
    return text[:cap] + note, True


class Toolbox:
    """Built-in tools and MCP tools behind one interface. Owned by the thread that runs the
    agent; a tool that hangs is left behind in its own daemon thread after its timeout."""

    def __init__(self, tools: Sequence[BuiltinTool] = (), host: ToolHost | None = None,
                 servers: Sequence[str] = (), max_result_chars: int = MAX_RESULT_CHARS
                 ) -> None:
        self._local = {t.spec.name: t for t in tools}
        self._host = host
        self._servers = tuple(servers)
        self._mcp: dict[str, ToolSpec] | None = None
        self.max_result_chars = max_result_chars
        self.problems: list[str] = []  # servers whose tools could not be listed

    @classmethod
    def for_chat(cls, tools: ChatTools, *, search: SearchFn | None = None,
                 collections: Sequence[str] = (), host: ToolHost | None = None) -> Toolbox:
        """The toolbox of a chat's settings (built-ins on, MCP servers chosen)."""
        builtins = builtin_tools(tools.builtins, search=search, collections=collections,
                                 allowed_folders=tools.allowed_folders)
        return cls(builtins, host if tools.mcp_servers else None, tools.mcp_servers)

    def with_search(self, search: SearchFn, collections: Sequence[str]) -> Toolbox:
        """The same toolbox with search_documents (when on) searching `collections`."""
        if SEARCH_DOCUMENTS.name in self._local:
            self._local[SEARCH_DOCUMENTS.name] = BuiltinTool(
                SEARCH_DOCUMENTS, search_documents_tool(search, collections))
        return self

    def _mcp_specs(self) -> dict[str, ToolSpec]:
        if self._mcp is None:
            self._mcp = {}
            for server in self._servers if self._host is not None else ():
                assert self._host is not None
                try:
                    listed = self._host.specs([server])
                except GlassboxError as exc:  # one broken server costs its tools, no more
                    self.problems.append(str(exc))
                    log.warning("MCP server %s: %s", server, exc)
                    continue
                for spec in listed:
                    if spec.name in self._local or spec.name in self._mcp:
                        self.problems.append(f"The tool {spec.name!r} of {spec.source} has the "
                                             "name of another tool and is left out.")
                        continue
                    self._mcp[spec.name] = spec
        return self._mcp

    def specs(self) -> tuple[ToolSpec, ...]:
        return (*(t.spec for t in self._local.values()), *self._mcp_specs().values())

    def spec(self, name: str) -> ToolSpec | None:
        local = self._local.get(name)
        return local.spec if local is not None else self._mcp_specs().get(name)

    def call(self, name: str, arguments: dict[str, Any],
             timeout_s: float = DEFAULT_TIMEOUT_S, cancel: threading.Event | None = None
             ) -> ToolOutcome:
        """Run the tool; every failure is an outcome whose text tells the model what went
        wrong (ok False, `error` the same message for the person). `cancel` abandons an MCP
        call at once (the host tells the server)."""
        started = time.perf_counter()
        spec = self.spec(name)
        if spec is None:
            known = ", ".join(s.name for s in self.specs()) or "none"
            return _failed(f"There is no tool named {name!r}. The tools are: {known}.", started)
        problem = schema_problem(spec, arguments)
        if problem is not None:
            return _failed(problem, started)
        try:
            text = self._run(spec, arguments, timeout_s, cancel)
        except Cancelled:
            return _failed("cancelled", started)
        except ToolError as exc:
            return _failed(str(exc), started)
        except Exception as exc:  # noqa: BLE001 - a tool's own bug must not end the chat
            log.exception("tool %s failed", name)
            return _failed(f"The tool {name} failed: {type(exc).__name__}: {exc}", started)
        shown, cut = truncated(text, self.max_result_chars)
        return ToolOutcome(shown, truncated=cut, original_chars=len(text),
                           elapsed_s=time.perf_counter() - started,
                           suspicious=suspicious_passages(shown))

    def _run(self, spec: ToolSpec, arguments: dict[str, Any], timeout_s: float,
             cancel: threading.Event | None) -> str:
        local = self._local.get(spec.name)
        if local is not None:
            return _with_timeout(lambda: local.run(arguments), spec.name, timeout_s, timeout_s)
        host = self._host
        if host is None:
            raise McpServerError(f"No MCP host is running for the tool {spec.name}.")
        # The host times its own calls (a server's start comes before `timeout_s` begins)
        # and stops a server that hangs; a thread here would only leave it running.
        text = host.call(spec, arguments, timeout_s) if cancel is None else \
            host.call(spec, arguments, timeout_s, cancel=cancel)
        if not isinstance(text, str):
            raise ToolError(f"The tool {spec.name} returned {type(text).__name__}, not text.")
        return text


def _failed(message: str, started: float) -> ToolOutcome:
    return ToolOutcome(f"Error: {message}", ok=False, error=message,
                       original_chars=len(message), elapsed_s=time.perf_counter() - started)


def schema_problem(spec: ToolSpec, arguments: Any) -> str | None:
    """What is wrong with `arguments` for the tool's schema (naming the field), or None."""
    import jsonschema

    if not isinstance(arguments, dict):
        return f"The arguments of {spec.name} must be a JSON object."
    try:
        validator_class = jsonschema.validators.validator_for(spec.parameters)
        validator_class.check_schema(spec.parameters)
        error = jsonschema.exceptions.best_match(
            validator_class(spec.parameters).iter_errors(arguments))
    except jsonschema.exceptions.SchemaError as exc:
        return f"The tool {spec.name} has an invalid parameter schema: {exc.message}"
    if error is None:
        return None
    where = "arguments" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}"
                                  for p in error.absolute_path)
    return f"Bad arguments for {spec.name}: {where}: {error.message}"


def _with_timeout(run: Callable[[], str], name: str, timeout_s: float, wait_s: float) -> str:
    """`run()` in a daemon thread, given up after `wait_s` (a Python thread cannot be killed:
    a hung built-in is left to finish on its own; MCP servers are stopped by their host)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = run()
        except BaseException as exc:  # noqa: BLE001 - carried to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"tool-{name}", daemon=True)
    thread.start()
    thread.join(wait_s)
    if thread.is_alive():
        raise ToolError(f"The tool {name} did not answer within {timeout_s:g} s and was "
                        "given up.")
    if "error" in box:
        raise box["error"]
    value = box.get("value")
    if not isinstance(value, str):
        raise ToolError(f"The tool {name} returned {type(value).__name__}, not text.")
    return value


__all__ = ["DEFAULT_TIMEOUT_S", "MAX_RESULT_CHARS", "ToolHost", "Toolbox",
           "schema_problem", "suspicious_passages", "truncated"]
