"""Where the window meets the core's tool machinery: the one place that names the agent's,
the toolbox's and the MCP host's functions.

The window's tool views and controllers were built beside the core pieces (the agent loop and
toolbox, the MCP host); everything they need of them goes through the functions here, which
import inside (heavy modules such as the MCP SDK stay off the window's start path).
`reply_kwargs` passes each ChatSession reply method the tool arguments it takes (edits of
earlier messages take no tool choice).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ui.mcp_servers_view import ServerRow

if TYPE_CHECKING:
    from core.api import ChatTools, ToolSpec

# The built-in tools (core.tools.builtins.BUILTIN_NAMES): name, title, what the picker says.
BUILTINS: tuple[tuple[str, str, str], ...] = (
    ("calculator", "Calculator",
     "Arithmetic: + - * / ** and math functions, computed safely (never eval)."),
    ("search_documents", "Search my documents",
     "Passages from the document collections this chat uses."),
    ("read_file", "Read files", "A text file inside the folders you allow below."),
    ("current_datetime", "Date and time", "The date, time and time zone of this computer."),
)


def session_accepts(method: Callable[..., Any], name: str) -> bool:
    """True when `method` takes a keyword argument `name` (a ChatSession with tools)."""
    try:
        return name in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


def reply_kwargs(method: Callable[..., Any], **wanted: Any) -> dict[str, Any]:
    """The keyword arguments of `wanted` (consent, cancel, tool_choice) that `method`
    accepts."""
    return {k: v for k, v in wanted.items() if v is not None and session_accepts(method, k)}


def set_step_limit(session: Any, max_steps: int) -> None:
    """The chat's step limit on a ChatSession that keeps one (`max_steps`), for its next
    reply (the engine's thread runs one reply at a time)."""
    if hasattr(session, "max_steps"):
        session.max_steps = max_steps


def toolbox_factory(search: Callable[..., Any] | None,
                    host: Callable[[], Any]) -> Callable[[ChatTools], Any]:
    """ChatSession's `toolbox_for`: a chat's tool settings -> its Toolbox (built-ins, and the
    MCP servers' tools through the window's one host, asked for when a chat uses one)."""
    def toolbox_for(tools: ChatTools) -> Any:
        from core.api import Toolbox

        return Toolbox.for_chat(tools, search=search,
                                host=host() if tools.mcp_servers else None)

    return toolbox_for


# -- MCP -----------------------------------------------------------------------------------
def config_rows(text: str) -> list[ServerRow]:
    """The servers of a configuration, none started yet (no host is made to list them)."""
    from core.tools.mcp_config import parse_config

    config = parse_config(text)
    return [ServerRow(name=name, transport=server.transport, state="stopped")
            for name, server in config.enabled().items()]


def mcp_config_path() -> Path:
    from core.tools.mcp_config import app_config_path

    return Path(app_config_path())


def read_mcp_config_text() -> str:
    """The app's mcp.json as text ("" when there is none yet)."""
    path = mcp_config_path()
    return path.read_text(encoding="utf-8") if path.exists() else ""


def save_mcp_config_text(text: str) -> Any:
    """Check `text` (the mcpServers shape) and write it as the app's file; returns the parsed
    configuration. Raises the core's McpServerError (a GlassboxError) naming what is wrong."""
    from core.tools.mcp_config import parse_config, save_config

    config = parse_config(text, source="The configuration")
    save_config(config)
    return config


def make_host() -> Any:
    """An McpHost over the app's configuration (servers start on first use)."""
    from core.tools.mcp_config import load_app_config
    from core.tools.mcp_host import McpHost

    return McpHost(load_app_config())


def server_rows(host: Any) -> list[ServerRow]:
    rows = []
    for name in host.servers():
        status = host.status(name)
        rows.append(ServerRow(name=name, transport=status.transport, state=status.state,
                              error=status.error, tools=status.tools,
                              stderr_tail=status.stderr_tail))
    return rows


def server_tools(host: Any, name: str) -> Sequence[ToolSpec]:
    return list(host.tools(name))


# -- the chat's tool settings, stored with the chat ----------------------------------------
def chat_tools(store: Any, chat_id: int) -> ChatTools:
    """ChatStore.chat_tools."""
    return store.chat_tools(chat_id)


def set_chat_tools(store: Any, chat_id: int, tools: ChatTools) -> None:
    store.set_chat_tools(chat_id, tools)
