"""Glassbox as an MCP host: the user's MCP servers, their tools, and calls to them, behind a
plain synchronous API that the agent loop, the CLI and the window's workers call from any thread.

The official SDK is async. The host owns one asyncio event loop in a daemon thread; every
server's connection lives there as one task (core/tools/mcp_link.py), and each public method
hands a coroutine to that loop and waits for it with a deadline. So a server that hangs, crashes
or writes garbage costs the caller at most its timeout and an McpServerError naming the server;
the server is marked failed and starts again on the next use (or `restart`).

Servers start lazily: the first `tools`, `specs` or `call` that needs one starts it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from core.errors import Cancelled, McpServerError, ToolError
from core.tools.mcp_config import McpConfig, ServerConfig, StdioServer
from core.tools.types import ToolSpec

if TYPE_CHECKING:  # the SDK costs seconds to import: it loads with the first server started
    from core.tools.mcp_link import Link, StderrLog

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_START_TIMEOUT_S = 30.0
# Stopping a stdio server can take the SDK up to ~6.5 s (flush, grace, SIGTERM, SIGKILL);
# the sync facade allows this on top of an operation's own timeout before giving up waiting.
_STOP_S = 10.0

_CANCEL_POLL_S = 0.05  # how soon a set cancel token is seen during a call

State = Literal["stopped", "starting", "ready", "failed"]
T = TypeVar("T")


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class ServerStatus:
    """Where one server stands, for the window and the CLI."""

    name: str
    transport: str  # "stdio" or "http"
    state: State
    error: str | None = None  # the last failure, a message a person can act on
    tools: int = 0
    stderr_tail: str = ""  # the end of a stdio server's stderr (empty for HTTP)


class _Server:
    """A configured server and its current connection; touched only on the host's loop."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.state: State = "stopped"
        self.error: str | None = None
        self.link: Link | None = None
        self.stderr: StderrLog | None = None
        self.lock = asyncio.Lock()


class McpHost:
    """The user's MCP servers. Thread-safe; close it (or use `with`) to stop every server."""

    def __init__(self, config: McpConfig | Mapping[str, ServerConfig] | None = None, *,
                 start_timeout_s: float = DEFAULT_START_TIMEOUT_S) -> None:
        servers = config.enabled() if isinstance(config, McpConfig) else dict(config or {})
        self.start_timeout_s = start_timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mcp-host",
                                        daemon=True)
        self._thread.start()
        self._closed = False
        self._servers: dict[str, _Server] = self._run(_make_servers(servers), 5.0)
        # The name the model called -> (server, tool), filled as specs are made.
        self._routes: dict[str, tuple[str, str]] = {}

    # --- servers -------------------------------------------------------------------------------

    def servers(self) -> list[str]:
        return list(self._servers)

    def status(self, name: str) -> ServerStatus:
        server = self._server(name)
        stderr = server.stderr.tail() if server.stderr else ""
        tools = len(server.link.tools) if server.link and server.state == "ready" else 0
        return ServerStatus(name=name, transport=server.config.transport, state=server.state,
                            error=server.error, tools=tools, stderr_tail=stderr)

    def start(self, name: str) -> None:
        """Start `name` unless it is ready; raises McpServerError when it cannot."""
        self._run(self._ensure(self._server(name)), self.start_timeout_s + 2 * _STOP_S)

    def restart(self, name: str) -> None:
        """Stop `name` (whatever its state) and start it again."""
        server = self._server(name)
        self._run(self._restart(server), self.start_timeout_s + 2 * _STOP_S)

    def configure(self, config: McpConfig | Mapping[str, ServerConfig]) -> None:
        """Take a new configuration (the user edited it): servers removed or changed are
        stopped (a changed one starts with its new settings on next use), new ones added."""
        servers = config.enabled() if isinstance(config, McpConfig) else dict(config)
        self._run(self._configure(servers), 3 * _STOP_S)
        self._routes = {called: route for called, route in self._routes.items()
                        if route[0] in servers}

    def stop(self, name: str) -> None:
        self._run(self._stop(self._server(name)), 2 * _STOP_S)

    # --- tools ---------------------------------------------------------------------------------

    def tools(self, name: str) -> list[ToolSpec]:
        """`name`'s tools under their own names, with descriptions and input schemas."""
        link = self._run(self._ensure(self._server(name)), self.start_timeout_s + 2 * _STOP_S)
        return [ToolSpec(name=t.name, description=t.description or "",
                         parameters=dict(t.input_schema), source=f"mcp:{name}")
                for t in link.tools]

    def specs(self, servers: Sequence[str]) -> list[ToolSpec]:
        """The tools of `servers` as the model calls them: `SERVER__tool`, unique, within
        OpenAI's function-name rule. `call` maps a name back."""
        from core.tools.mcp_results import qualified_name

        # Start them side by side: a slow server's start does not add to the next one's.
        self._run(self._ensure_all([self._server(n) for n in servers]),
                  self.start_timeout_s + 2 * _STOP_S)
        specs: list[ToolSpec] = []
        for name in servers:
            for tool in self.tools(name):
                qualified = qualified_name(name, tool.name)
                self._routes[qualified] = (name, tool.name)
                specs.append(ToolSpec(name=qualified, description=tool.description,
                                      parameters=tool.parameters, source=tool.source))
        return specs

    def call(self, spec: ToolSpec, arguments: dict[str, Any],
             timeout_s: float = DEFAULT_TIMEOUT_S, *, cancel: CancelToken | None = None) -> str:
        """Run the tool `spec` names (a name from `specs`, or a server's own tool name with
        source "mcp:SERVER") and return its text. Raises ToolError for a tool's own error
        result and McpServerError when the server crashed, hung past `timeout_s` or wrote
        garbage (it starts again on the next call). A server not running yet is started
        first, within the host's start timeout, before `timeout_s` begins. When `cancel` is
        set the call is abandoned (the server is told, and stays up) and Cancelled raised."""
        server_name, tool = self._route(spec)
        server = self._server(server_name)
        wait_s = self.start_timeout_s + timeout_s + 2 * _STOP_S
        return self._run(self._call(server, tool, arguments, timeout_s), wait_s, cancel)

    # --- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop every server (their processes end) and the host's thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            future = asyncio.run_coroutine_threadsafe(self._stop_all(), self._loop)
            future.result(timeout=3 * _STOP_S)
        except concurrent.futures.TimeoutError:
            pass  # a process that survived SIGKILL; the loop goes anyway
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5.0)
            if not self._thread.is_alive():
                self._loop.close()

    def __enter__(self) -> McpHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- on the loop ---------------------------------------------------------------------------

    async def _ensure(self, server: _Server) -> Link:
        async with server.lock:
            link = server.link
            if link is not None and server.state == "ready" and not link.closed.is_set():
                return link
            return await self._open(server)

    async def _ensure_all(self, servers: Sequence[_Server]) -> None:
        """Start every one of `servers`; the first failure is raised after all have tried."""
        results = await asyncio.gather(*(self._ensure(s) for s in servers),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _restart(self, server: _Server) -> None:
        async with server.lock:
            await self._open(server)

    async def _open(self, server: _Server) -> Link:
        """Start a fresh connection (the lock is held). Any old one is stopped first."""
        from core.tools.mcp_link import Link, StderrLog

        await self._end_link(server)
        if isinstance(server.config, StdioServer):
            if server.stderr:
                server.stderr.close()
            server.stderr = StderrLog()
        link = Link(server.config, server.stderr)
        server.link, server.state, server.error = link, "starting", None
        link.task = asyncio.create_task(self._watch(server, link))
        try:
            await asyncio.wait_for(asyncio.shield(link.ready), self.start_timeout_s)
        except TimeoutError:
            message = (f'{link.where()} did not finish starting within '
                       f"{self.start_timeout_s:g} s{link.stderr_note()}")
            server.state, server.error = "failed", message
            # Stopped in the background (it waits for this lock): the caller has waited long
            # enough, and the next start finds the process gone.
            asyncio.create_task(self._stop_failed(server, link))
            raise McpServerError(message) from None
        except RuntimeError:
            await self._end_link(server)
            raise McpServerError(link.error or f"{link.where()} failed to start") from None
        server.state = "ready"
        return link

    async def _watch(self, server: _Server, link: Link) -> None:
        """Run the link; when it ends on its own, mark the server failed with the reason."""
        await link.run()
        if server.link is link and link.error:
            server.state, server.error = "failed", link.error

    async def _end_link(self, server: _Server) -> None:
        """Stop the server's connection and wait for its process to go (bounded)."""
        link = server.link
        if link is None or link.task is None:
            return
        if link.ready.done() and not link.ready.cancelled() and link.ready.exception() is None:
            link.stop.set()  # ready: let it close the session and the process in order
        else:
            link.task.cancel()  # still opening: the SDK's shutdown is shielded and bounded
        done, _ = await asyncio.wait([link.task], timeout=_STOP_S)
        if not done:
            link.task.cancel()
            await asyncio.wait([link.task], timeout=_STOP_S / 2)

    async def _stop(self, server: _Server) -> None:
        async with server.lock:
            await self._end_link(server)
            server.state, server.error = "stopped", None

    async def _configure(self, configs: Mapping[str, ServerConfig]) -> None:
        old = self._servers
        for name, server in old.items():
            if configs.get(name) != server.config:
                await self._stop(server)
                if server.stderr:
                    server.stderr.close()
        # One assignment: other threads reading the dict see the old one or the new one.
        self._servers = {name: old[name] if name in old and old[name].config == config
                         else _Server(config) for name, config in configs.items()}

    async def _stop_all(self) -> None:
        await asyncio.gather(*(self._stop(s) for s in self._servers.values()),
                             return_exceptions=True)
        for server in self._servers.values():
            if server.stderr:
                server.stderr.close()

    async def _call(self, server: _Server, tool: str, arguments: dict[str, Any],
                    timeout_s: float) -> str:
        from mcp.shared.exceptions import MCPError
        from pydantic import ValidationError

        from core.tools.mcp_results import result_text

        link = await self._ensure(server)
        tool = _own_name(server.config.name, tool, link)
        client = link.client
        if client is None:
            raise McpServerError(link.error or f"{link.where()} is not connected")
        try:
            # The SDK's own deadline cancels the request on the server; wait_for is the
            # backstop for a transport stuck writing to a server that reads nothing.
            result = await asyncio.wait_for(
                client.call_tool(tool, arguments, read_timeout_seconds=timeout_s),
                timeout_s + 1.0)
        except (TimeoutError, MCPError, ValidationError) as exc:
            raise await self._call_failed(server, link, tool, timeout_s, exc) from None
        if result.is_error:
            text = result_text(result) or "(no message)"
            raise ToolError(f'MCP tool "{tool}" on server "{server.config.name}" reported an '
                            f"error: {text}")
        return result_text(result)

    async def _call_failed(self, server: _Server, link: Link, tool: str, timeout_s: float,
                           exc: Exception) -> ToolError:
        """The error for a failed call; a server that hung, died or spoke garbage is stopped
        and marked failed, so the next call starts it afresh."""
        import mcp_types
        from mcp.shared.exceptions import MCPError

        timed_out = isinstance(exc, TimeoutError) or (
            isinstance(exc, MCPError) and exc.code == mcp_types.REQUEST_TIMEOUT)
        if isinstance(exc, MCPError) and not timed_out and not link.closed.is_set() \
                and exc.code != mcp_types.CONNECTION_CLOSED:
            # The server answered with a protocol error (an unknown tool, bad arguments):
            # it is alive and well, the call was wrong.
            return ToolError(f'MCP server "{server.config.name}" refused the call to "{tool}": '
                             f"{exc.message}")
        if timed_out:
            message = (f'MCP tool "{tool}" on server "{server.config.name}" did not answer '
                       f"within {timeout_s:g} s; the server was stopped and starts again on "
                       f"the next call")
        elif isinstance(exc, MCPError):
            await asyncio.wait([asyncio.ensure_future(link.closed.wait())], timeout=1.0)
            message = link.describe_loss()
        else:
            message = f'{link.where()} sent a result that is not valid MCP: {exc}'
        if server.link is link:
            server.state, server.error = "failed", message
        # Stop it in the background: the caller has its answer now; the next start waits
        # for this under the server's lock.
        asyncio.create_task(self._stop_failed(server, link))
        return McpServerError(message)

    async def _stop_failed(self, server: _Server, link: Link) -> None:
        async with server.lock:
            if server.link is link:
                await self._end_link(server)

    # --- plumbing ------------------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, T], wait_s: float,
             cancel: CancelToken | None = None) -> T:
        if self._closed:
            coro.close()
            raise McpServerError("The MCP host is closed")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                # Without a token one wait does; with one, wake often enough to see it.
                step = deadline - time.monotonic() if cancel is None else _CANCEL_POLL_S
                return future.result(timeout=max(0.0, step))
            except concurrent.futures.TimeoutError:
                if cancel is not None and cancel.is_set():
                    future.cancel()  # cancels the task; the SDK tells the server
                    raise Cancelled("The MCP call was cancelled") from None
                if time.monotonic() >= deadline:
                    future.cancel()
                    raise McpServerError(
                        f"The MCP host gave up waiting after {wait_s:g} s") from None

    def _server(self, name: str) -> _Server:
        try:
            return self._servers[name]
        except KeyError:
            known = ", ".join(self._servers) or "none are configured"
            raise McpServerError(f'No MCP server named "{name}" ({known})') from None

    def _route(self, spec: ToolSpec) -> tuple[str, str]:
        if spec.name in self._routes:
            return self._routes[spec.name]
        if spec.source.startswith("mcp:"):
            return spec.source[len("mcp:"):], spec.name
        raise ToolError(f'"{spec.name}" is not a tool of any MCP server '
                        f"(its source is {spec.source!r})")


def _own_name(server: str, called: str, link: Link) -> str:
    """The server's name for a tool called by its own name or by its qualified one."""
    from core.tools.mcp_results import qualified_name

    names = [t.name for t in link.tools]
    if called in names:
        return called
    return next((n for n in names if qualified_name(server, n) == called), called)


async def _make_servers(configs: Mapping[str, ServerConfig]) -> dict[str, _Server]:
    # asyncio.Lock binds to the running loop, so servers are made on the host's loop.
    return {name: _Server(config) for name, config in configs.items()}
