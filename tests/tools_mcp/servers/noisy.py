"""A server with the commonest real-world mistake: a banner printed on stdout, which the MCP
stdio transport reserves for protocol messages. After the banner it is a working server."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

print("Noisy MCP server v1.0 ready", flush=True)

server = MCPServer("noisy")


@server.tool(description="Add two integers.")
def add(a: int, b: int) -> int:
    return a + b


server.run()
