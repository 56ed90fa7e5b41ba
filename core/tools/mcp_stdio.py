"""The stdio transport to an MCP server's child process, for POSIX.

Why not the SDK's `stdio_client`: it joins each chunk it reads onto the part of a line it holds
and splits the whole again, so one long message costs time in the square of its length; a
20 MB tool result took 33 s here and a 50 MB one never arrived inside two minutes, while the
issue asks that a 50 MB result be shown, truncated with a note. This reader keeps a line's
pieces in a list and looks for the newline in the new chunk only: linear, 50 MB in about a
second. A message over MAX_MESSAGE_BYTES (a server stuck printing) ends the connection with an
error instead of filling memory.

Everything else is the SDK's: its default environment for the child, its JSON-RPC parsing, and
its escalation that stops the server's whole process group (stdin closed, then SIGTERM, then
SIGKILL). On Windows the host uses the SDK's transport as it is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import IO, Any

import anyio
import anyio.abc
import mcp_types
from mcp.client.stdio import get_default_environment
from mcp.os.posix.utilities import terminate_posix_process_tree
from mcp.shared.message import SessionMessage

from core.tools.mcp_config import StdioServer

MAX_MESSAGE_BYTES = 256 * 1024 * 1024
_EXIT_GRACE_S = 2.0  # after stdin closes, as the MCP spec's shutdown asks
_KILL_GRACE_S = 2.0  # after SIGTERM, before SIGKILL


class MessageTooLarge(Exception):
    """A server wrote more than MAX_MESSAGE_BYTES without a newline."""


@asynccontextmanager
async def stdio_transport(config: StdioServer, stderr: IO[bytes],
                          max_message_bytes: int | None = None
                          ) -> AsyncIterator[tuple[Any, Any]]:
    """Start `config`'s command and yield the (read, write) message streams the SDK's client
    session takes. On exit the process and its children are stopped, bounded in time."""
    limit = MAX_MESSAGE_BYTES if max_message_bytes is None else max_message_bytes
    env = get_default_environment() | dict(config.env)
    process = await anyio.open_process([config.command, *config.args], env=env, stderr=stderr,
                                       cwd=config.cwd, start_new_session=True)
    to_session, from_server = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    to_server, from_session = anyio.create_memory_object_stream[SessionMessage](0)

    async def read() -> None:
        assert process.stdout is not None
        async with to_session:
            pieces: list[bytes] = []
            held = 0
            with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError,
                          anyio.EndOfStream, OSError):
                async for chunk in process.stdout:
                    start = 0
                    while (end := chunk.find(b"\n", start)) != -1:
                        pieces.append(chunk[start:end])
                        line = b"".join(pieces)
                        pieces, held, start = [], 0, end + 1
                        if line.strip():
                            await to_session.send(_parse(line))
                    if start < len(chunk):
                        pieces.append(chunk[start:])
                        held += len(chunk) - start
                    if held > limit:
                        await to_session.send(MessageTooLarge(
                            f"it wrote a message over {_size(limit)}, more than Glassbox "
                            f"reads from a server"))
                        return

    async def write() -> None:
        assert process.stdin is not None
        async with from_session:
            with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
                async for message in from_session:
                    data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    await process.stdin.send(data.encode("utf-8") + b"\n")
        # The session is gone or the pipe broke: end the reader's side too, so a request
        # waiting on a server that no longer reads fails instead of hanging.
        await to_session.aclose()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(read)
        tasks.start_soon(write)
        try:
            yield from_server, to_server
        finally:
            # Shielded and bounded: a cancelled caller must still not leave the process alive.
            with anyio.CancelScope(shield=True):
                await _stop(process)
                for stream in (from_server, to_server):
                    await stream.aclose()
            tasks.cancel_scope.cancel()


def _size(count: int) -> str:
    return f"{count / 2**20:.0f} MB" if count >= 2**20 else f"{count:,} bytes"


def _parse(line: bytes) -> SessionMessage | Exception:
    try:
        return SessionMessage(mcp_types.jsonrpc_message_adapter.validate_json(line,
                                                                              by_name=False))
    except ValueError as exc:  # pydantic's ValidationError: the host quotes what was written
        return exc


async def _stop(process: anyio.abc.Process) -> None:
    """Close stdin, give the server a moment to exit, then stop its whole process group."""
    assert process.stdin is not None and process.stdout is not None
    with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        await process.stdin.aclose()
    if not await _exited(process, _EXIT_GRACE_S):
        await terminate_posix_process_tree(process, _KILL_GRACE_S)
        await _exited(process, _KILL_GRACE_S)
    with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        await process.stdout.aclose()
    # Not process.aclose(): it waits for the pipes' end, which a grandchild that kept them
    # open would hold for ever. The exit status is read above; the transport goes with it.
    transport = getattr(getattr(process, "_process", None), "_transport", None)
    if transport is not None:
        with suppress(Exception):
            transport.close()


async def _exited(process: anyio.abc.Process, within_s: float) -> bool:
    """Whether the process exited within `within_s`, by its exit status (see _stop)."""
    deadline = anyio.current_time() + within_s
    while process.returncode is None:
        if anyio.current_time() >= deadline:
            return False
        await anyio.sleep(0.01)
    return True
