"""A real MCP server for the host's tests, written with the SDK's MCPServer.

Run over stdio:  python toolkit.py [--name NAME]
Run over HTTP:   python toolkit.py --http PORT [--name NAME]   (streamable HTTP at /mcp)

Its tools cover what a host must survive: a plain result, a tool error, a tool that hangs, a
server that dies mid-call, a huge result, non-text content, and its own pid (so a test can check
the process is gone after the host closes).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from mcp.server.mcpserver import Context, Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

# One transparent pixel: the smallest real PNG, to test how non-text content is described.
_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")


def build(name: str) -> MCPServer:
    server = MCPServer(name)

    @server.tool(description="Add two integers and return their sum.")
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool(description=f"Echo the text back, prefixed by the server's name ({name}).")
    def echo(text: str) -> str:
        return f"{name}: {text}"

    @server.tool(description="Always fails with the given message.")
    def fail(message: str) -> str:
        raise ToolError(message)

    @server.tool(description="Sleep for the given number of seconds, then answer.")
    async def slow(seconds: float) -> str:
        await asyncio.sleep(seconds)
        return f"slept {seconds}"

    @server.tool(description="Kill this server's process in the middle of the call.")
    def crash() -> str:
        print("toolkit: crashing on purpose", file=sys.stderr, flush=True)
        os._exit(3)

    @server.tool(description="Return a text of n characters.")
    def huge(n: int) -> str:
        return "x" * n

    @server.tool(description="Return a one-pixel PNG image.")
    def picture() -> Image:
        return Image(data=_PNG, format="png")

    @server.tool(description="Return an HTTP header of this request ('(none)' over stdio).")
    def header(name: str, ctx: Context) -> str:
        request = ctx.request_context.request
        headers = getattr(request, "headers", None)
        return headers.get(name, "(none)") if headers is not None else "(none)"

    @server.tool(description="Return this server's process id.")
    def pid() -> int:
        return os.getpid()

    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", default="toolkit")
    parser.add_argument("--http", type=int, default=0, help="serve streamable HTTP on this port")
    args = parser.parse_args()
    print(f"toolkit {args.name} starting", file=sys.stderr, flush=True)
    server = build(args.name)
    if args.http:
        server.run("streamable-http", host="127.0.0.1", port=args.http)
    else:
        server.run()


if __name__ == "__main__":
    main()
