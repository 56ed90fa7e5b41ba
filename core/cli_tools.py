"""`glassbox ask --tools ...`: the agent loop on the command line.

Each call is shown on standard error before it runs and confirmed there (allow once, always,
or deny) unless --yes is given; the answer is printed on standard output, or with --json one
JSON object carrying every step (the call, its arguments, the decision and the result).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, TextIO

from core.cli_shape import print_json
from core.engine.types import ChatMessage, SamplingSettings
from core.errors import GlassboxError, ToolError
from core.tools import protocol
from core.tools.builtins import BUILTIN_NAMES, builtin_tools, canonical
from core.tools.toolbox import DEFAULT_TIMEOUT_S, Toolbox
from core.tools.types import (
    AgentFinished,
    AgentTrace,
    CallDecided,
    CallFinished,
    CallProposed,
    Decision,
    TextPiece,
    ToolCall,
    ToolSpec,
)

if TYPE_CHECKING:
    from core.engine.client import EngineClient
    from core.rag.library import DocumentLibrary

_ANSWERS: dict[str, Decision] = {"o": "allow_once", "once": "allow_once", "y": "allow_once",
                                 "yes": "allow_once", "a": "allow_always",
                                 "always": "allow_always", "d": "deny", "deny": "deny",
                                 "n": "deny", "no": "deny"}
_SHOWN_RESULT = 300


def add_tool_options(p: argparse.ArgumentParser) -> None:
    """The options of `ask` that turn tools on."""
    p.add_argument("--tools", default="", metavar="NAMES",
                   help="built-in tools to offer the model, comma-separated: calculator, docs "
                   "(search the --collection documents), files (read inside --allow-folder), "
                   "datetime")
    p.add_argument("--allow-folder", action="append", default=[], metavar="DIR",
                   help="a folder the files tool may read (repeatable)")
    p.add_argument("--mcp", action="append", default=[], metavar="NAME",
                   help="offer the tools of this MCP server (from --mcp-config; repeatable)")
    p.add_argument("--mcp-config", metavar="FILE",
                   help="a JSON file of MCP servers in the `mcpServers` shape")
    p.add_argument("--tool-choice", default="auto", metavar="auto|none|required|TOOL",
                   help="as in OpenAI's API: let the model choose (auto), forbid calls, "
                   "require one, or require the named tool (first step; default auto)")
    p.add_argument("--max-steps", type=int, default=5, metavar="N",
                   help="tool calls before the model must answer (default 5)")
    p.add_argument("--tool-timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                   help=f"seconds a tool may take (default {DEFAULT_TIMEOUT_S:g})")
    p.add_argument("--yes", action="store_true",
                   help="run every call without asking (for scripts)")


def wants_tools(args: argparse.Namespace) -> bool:
    return bool(args.tools.strip() or args.mcp)


def _builtin_names(args: argparse.Namespace) -> list[str]:
    try:
        names = [canonical(n) for n in args.tools.split(",") if n.strip()]
    except ToolError as exc:
        raise GlassboxError(f"--tools: {exc}") from None
    if "read_file" in names and not args.allow_folder:
        raise GlassboxError("--tools files needs --allow-folder DIR: the folders the model "
                            "may read.")
    if "search_documents" in names and not args.collection:
        raise GlassboxError("--tools docs needs --collection NAME: the documents to search.")
    return names


def terminal_consent(err: TextIO, read: Callable[[], str]) -> Callable[[ToolCall, ToolSpec],
                                                                         Decision]:
    """Ask on the terminal before each call; an end of input denies."""
    def ask(call: ToolCall, spec: ToolSpec) -> Decision:
        arguments = json.dumps(call.arguments, ensure_ascii=False)
        err.write(f"The model wants to call {call.name} ({spec.source}) with {arguments}\n")
        while True:
            err.write("Allow [o]nce, [a]lways for this tool, or [d]eny? ")
            err.flush()
            line = read()
            if not line:
                err.write("\n(no answer: denied)\n")
                return "deny"
            decision = _ANSWERS.get(line.strip().lower())
            if decision is not None:
                return decision

    return ask


def _allow_all(call: ToolCall, spec: ToolSpec) -> Decision:
    return "allow_once"


def _mcp_host(args: argparse.Namespace, stack: ExitStack) -> Any:
    """The MCP host for --mcp/--mcp-config (core.tools.mcp_host, loaded only when asked)."""
    if not args.mcp:
        if args.mcp_config:
            raise GlassboxError("--mcp-config needs --mcp NAME: which of its servers to use.")
        return None
    try:
        from core.tools.mcp_config import load_app_config, load_config
        from core.tools.mcp_host import McpHost
    except ImportError as exc:
        raise GlassboxError(f"MCP servers are not available in this Glassbox ({exc}).") from exc
    # --mcp-config FILE, or else the servers configured in the app.
    config = load_config(args.mcp_config) if args.mcp_config else load_app_config()
    host = McpHost(config)
    close = getattr(host, "close", None)
    if callable(close):
        stack.callback(close)
    return host


def run_with_tools(args: argparse.Namespace, messages: list[ChatMessage],
                   chosen: SamplingSettings, out: TextIO, err: TextIO,
                   start_engine: Callable[[], EngineClient],
                   library: DocumentLibrary | None) -> int:
    """`glassbox ask` with tools: the agent loop, its steps on standard error or in --json."""
    from core.tools.agent import run_agent

    if args.max_steps < 1:
        raise GlassboxError("--max-steps must be at least 1.")
    if args.tool_timeout <= 0:
        raise GlassboxError("--tool-timeout must be more than 0 seconds.")
    names = _builtin_names(args)
    search = None
    if library is not None:
        from core.rag.grounding import searcher

        search = searcher(library)
    with ExitStack() as stack:
        host = _mcp_host(args, stack)
        toolbox = Toolbox(builtin_tools(names, search=search, collections=args.collection,
                                        allowed_folders=args.allow_folder),
                          host, args.mcp)
        # The MCP servers' tools are listed and every schema checked before the model loads:
        # a broken server or a bad --tool-choice costs no wait.
        protocol.plan(toolbox.specs(), args.tool_choice)
        for problem in toolbox.problems:
            err.write(f"warning: {problem}\n")
        consent = _allow_all if args.yes else terminal_consent(err, sys.stdin.readline)
        engine = stack.enter_context(start_engine())
        events = run_agent(engine, messages, toolbox, consent, sampling=chosen,
                           tool_choice=args.tool_choice, max_steps=args.max_steps,
                           tool_timeout_s=args.tool_timeout)
        trace = _follow(events, out, err, echo=not args.json)
    if trace is None:
        return 130
    if args.json:
        print_json(out, trace_summary(trace), indent=None)
    elif trace.error:
        err.write(f"{trace.error}\n")
    return 1 if trace.stop == "error" else 0


def _follow(events: Iterator[Any], out: TextIO, err: TextIO, echo: bool) -> AgentTrace | None:
    """Show the run as it goes: calls and results on standard error, the answer's text on
    standard output. Ctrl+C stops it (None)."""
    text_steps: dict[int, str] = {}
    try:
        for event in events:
            if isinstance(event, TextPiece) and echo:
                so_far = text_steps.get(event.step, "") + event.text
                text_steps[event.step] = so_far
                if so_far.lstrip() and not so_far.lstrip().startswith("{"):
                    out.write(event.text)
                    out.flush()
            elif isinstance(event, CallProposed) and echo:
                err.write(f"→ {event.call.name} "
                          f"{json.dumps(event.call.arguments, ensure_ascii=False)}\n")
            elif isinstance(event, CallDecided) and event.decision == "deny" and echo:
                err.write("  denied\n")
            elif isinstance(event, CallFinished) and echo:
                outcome = event.outcome
                shown = outcome.text if len(outcome.text) <= _SHOWN_RESULT else \
                    outcome.text[:_SHOWN_RESULT] + "…"
                err.write(f"← {shown}\n")
                for passage in outcome.suspicious:
                    err.write(f"  ! the result tries to instruct the model: {passage}\n")
            elif isinstance(event, AgentFinished):
                if echo:
                    out.write("\n")
                return event.trace
    except KeyboardInterrupt:
        if echo:
            out.write(" [stopped]\n")
    return None


def trace_summary(trace: AgentTrace) -> dict[str, Any]:
    """What --json prints: the answer, how the run ended, and each step's call and result."""
    steps = []
    for step in trace.steps:
        item: dict[str, Any] = {"index": step.index, "output": step.raw_output,
                                "prompt_tokens": step.prompt_tokens,
                                "completion_tokens": step.completion_tokens,
                                "elapsed_s": round(step.elapsed_s, 4)}
        if step.call is not None:
            item["call"] = {"name": step.call.name, "arguments": step.call.arguments,
                            "source": step.call.source}
            item["decision"] = step.decision
        if step.outcome is not None:
            o = step.outcome
            item["result"] = {"text": o.text, "ok": o.ok, "error": o.error,
                              "denied": o.denied, "truncated": o.truncated,
                              "original_chars": o.original_chars,
                              "suspicious": list(o.suspicious)}
        steps.append(item)
    return {"text": trace.final_text, "stop": trace.stop, "error": trace.error,
            "protocol": trace.protocol, "tools": [t.name for t in trace.tools],
            "steps": steps}


__all__ = ["BUILTIN_NAMES", "add_tool_options", "run_with_tools", "terminal_consent",
           "trace_summary", "wants_tools"]
