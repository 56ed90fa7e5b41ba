"""One live connection to one MCP server, run as a task on the host's event loop.

The SDK's client is a stack of anyio task groups and cancel scopes, which must be entered and
left by the same task. So each connection is one task (`Link.run`) that opens the transport and
the session, lists the tools, then waits to be told to stop, or for the server to go away;
calls from other tasks use its session meanwhile.

Two ways a server goes away that the SDK does not surface on its own are watched here:
- its stdout ends (the process crashed, or exited): the SDK fails pending requests with
  "Connection closed" but nothing tells an idle host; `_WatchedStream` sees the end and sets
  `closed`, so the status says failed at once.
- it writes a line that is not JSON-RPC: the SDK logs it and waits on, so a server that prints a
  banner and nothing else would hang the handshake until the start timeout. The MCP spec says a
  server must write nothing else on stdout, so the first such line ends the connection, and
  the error quotes it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import IO, Any, cast

import mcp_types
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from pydantic import ValidationError

from core.tools.mcp_config import HttpServer, ServerConfig, StdioServer

STDERR_TAIL_CHARS = 2000
_QUOTE_CHARS = 200

# The SDK logs a server's faults (a bad line, a lost stream) with tracebacks; the host turns each
# into an error naming the server, so without a handler of the app's own they would only repeat
# it on the terminal (Python's last-resort handler prints warnings to stderr).
logging.getLogger("mcp").addHandler(logging.NullHandler())


class StderrLog:
    """A stdio server's stderr, kept in an unnamed temporary file (a pipe would need a reader
    thread, and a chatty server would block on a full one). The child shares the file's
    offset, so the tail is read with pread, which moves nothing."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.TemporaryFile()

    def tail(self, chars: int = STDERR_TAIL_CHARS) -> str:
        if self.file.closed:
            return ""
        fd = self.file.fileno()
        size = os.fstat(fd).st_size
        start = max(0, size - chars * 4)  # up to 4 bytes a character in UTF-8
        text = os.pread(fd, size - start, start).decode("utf-8", errors="replace")
        return text[-chars:].strip()

    def close(self) -> None:
        self.file.close()


class _WatchedStream:
    """The session's read stream, watched for its end and for non-protocol items."""

    def __init__(self, inner: Any, link: Link) -> None:
        self._inner = inner
        self._link = link

    async def receive(self) -> Any:
        return await self.__anext__()

    def __aiter__(self) -> _WatchedStream:
        return self

    async def __anext__(self) -> Any:
        try:
            item = await self._inner.__anext__()
        except StopAsyncIteration:
            self._link.mark_closed(None)
            raise
        if isinstance(item, Exception):
            self._link.mark_closed(_garbage(item))
            raise StopAsyncIteration
        return item

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _WatchedStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _garbage(exc: Exception) -> str:
    """Words for an item the transport could not parse, quoting what the server wrote."""
    from core.tools.mcp_stdio import MessageTooLarge

    if isinstance(exc, MessageTooLarge):
        return str(exc)
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        written = errors[0].get("input") if errors else None
        if isinstance(written, str | bytes):
            text = written.decode(errors="replace") if isinstance(written, bytes) else written
            quote = text.strip()[:_QUOTE_CHARS]
            return f"it wrote text that is not MCP protocol (JSON-RPC) on stdout: {quote!r}"
        return f"it wrote a message that is not MCP protocol: {exc.error_count()} problem(s)"
    return f"its connection failed: {type(exc).__name__}: {exc}"


class Link:
    """One connection attempt: created by start, ended by stop, a crash or garbage."""

    def __init__(self, config: ServerConfig, stderr: StderrLog | None) -> None:
        self.config = config
        self.stderr = stderr
        self.client: Client | None = None
        self.tools: list[mcp_types.Tool] = []
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.stop = asyncio.Event()
        self.closed = asyncio.Event()
        self.close_reason: str | None = None  # set when the server sent garbage
        self.task: asyncio.Task[None] | None = None
        self.error: str | None = None  # why the connection ended, when it was not asked to

    def mark_closed(self, reason: str | None) -> None:
        if reason and not self.close_reason:
            self.close_reason = reason
        self.closed.set()

    async def run(self) -> None:
        """Open, list the tools, stay open until stopped or gone; record any failure."""
        try:
            async with AsyncExitStack() as stack:
                client = Client(await self._transport(stack), cache=None)
                await stack.enter_async_context(client)
                self.tools = await _all_tools(client)
                self.client = client
                self.ready.set_result(None)
                await _first_of(self.stop.wait(), self.closed.wait())
                if not self.stop.is_set():
                    self.error = self.describe_loss()
        except asyncio.CancelledError:
            if not self.ready.done():
                self.ready.cancel()
            raise
        except BaseException as exc:  # the SDK wraps errors in groups; any of them ends it
            # A loss already described (the server died, then the teardown tripped on it)
            # keeps its words.
            self.error = self.error or self.describe_failure(_root(exc))
            if not self.ready.done():
                self.ready.set_exception(RuntimeError(self.error))
        finally:
            self.client = None
            self.closed.set()

    async def _transport(self, stack: AsyncExitStack) -> Any:
        config = self.config
        if isinstance(config, StdioServer):
            assert self.stderr is not None
            if sys.platform != "win32":
                from core.tools.mcp_stdio import stdio_transport

                return _watched(stdio_transport(config, self.stderr.file), self)
            params = StdioServerParameters(command=config.command, args=list(config.args),
                                           env=dict(config.env) or None, cwd=config.cwd)
            errlog = cast(Any, self.stderr.file)  # the SDK's hint says TextIO; a fileno is used
            return _watched(stdio_client(params, errlog=errlog), self)
        http = await stack.enter_async_context(
            create_mcp_http_client(headers=dict(config.headers) or None))
        return _watched(streamable_http_client(config.url, http_client=http), self)

    def where(self) -> str:
        return f'MCP server "{self.config.name}"'

    def describe_loss(self) -> str:
        """Why an open connection ended on its own."""
        if self.close_reason:
            return f"{self.where()} was stopped: {self.close_reason}{self.stderr_note()}"
        if isinstance(self.config, HttpServer):
            return f"{self.where()} closed its connection ({self.config.url})"
        return (f"{self.where()} stopped: its process exited or closed its output"
                f"{self.stderr_note()}")

    def describe_failure(self, exc: BaseException) -> str:
        """Why a connection could not open (or broke while opening)."""
        config = self.config
        if self.close_reason or self.closed.is_set() and _is_connection_closed(exc):
            return self.describe_loss()
        if isinstance(exc, OSError) and isinstance(config, StdioServer):
            return self._describe_spawn_error(exc, config)
        if isinstance(config, HttpServer):
            return (f"{self.where()} could not be reached at {config.url}: "
                    f"{type(exc).__name__}: {exc}")
        return f"{self.where()} failed: {type(exc).__name__}: {exc}{self.stderr_note()}"

    def _describe_spawn_error(self, exc: OSError, config: StdioServer) -> str:
        start = f"{self.where()} could not start:"
        if config.cwd and not os.path.isdir(config.cwd):
            return f'{start} its working folder "{config.cwd}" (set by "cwd") does not exist'
        if isinstance(exc, FileNotFoundError):
            return (f'{start} the command "{config.command}" was not found (set "command" to '
                    f"a program on PATH or a full path)")
        if isinstance(exc, PermissionError):
            return f'{start} "{config.command}" is not an executable program'
        return f'{start} "{config.command}": {exc.strerror or exc}'

    def stderr_note(self) -> str:
        tail = self.stderr.tail() if self.stderr else ""
        return f"\nIts stderr ends with:\n{tail}" if tail else ""


@asynccontextmanager
async def _watched(transport: Any, link: Link) -> AsyncIterator[tuple[Any, Any]]:
    async with transport as (read_stream, write_stream):
        yield _WatchedStream(read_stream, link), write_stream


async def _all_tools(client: Client) -> list[mcp_types.Tool]:
    tools: list[mcp_types.Tool] = []
    cursor: str | None = None
    for _ in range(100):  # a server whose cursor never ends cannot hang the start
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools


async def _first_of(*waits: Any) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _root(exc: BaseException) -> BaseException:
    """The first real error inside the SDK's (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup):
        inner = [e for e in exc.exceptions if not isinstance(e, asyncio.CancelledError)]
        exc = (inner or list(exc.exceptions))[0]
    return exc


def _is_connection_closed(exc: BaseException) -> bool:
    from mcp.shared.exceptions import MCPError

    return isinstance(exc, MCPError) and exc.code == mcp_types.CONNECTION_CLOSED
