"""A hand-written JSON-RPC server (as one in another language might be) that speaks the
protocol until a tool is called, then prints a debug line on stdout before its answer: the
non-protocol text a host must report mid-session. (Python servers made with the SDK are safe
from this: MCPServer diverts print() to stderr.)"""

from __future__ import annotations

import json
import sys


def reply(request_id: object, result: object = None, error: object = None) -> None:
    message = {"jsonrpc": "2.0", "id": request_id}
    message.update({"error": error} if error else {"result": result})
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


TOOLS = [{"name": "shout", "description": "Answer loudly.",
          "inputSchema": {"type": "object", "properties": {}}}]

for line in sys.stdin:
    request = json.loads(line)
    method, request_id = request.get("method"), request.get("id")
    if request_id is None:
        continue  # a notification
    if method == "initialize":
        reply(request_id, {"protocolVersion": request["params"]["protocolVersion"],
                           "capabilities": {"tools": {}},
                           "serverInfo": {"name": "rogue", "version": "0"}})
    elif method == "tools/list":
        reply(request_id, {"tools": TOOLS})
    elif method == "tools/call":
        print("debug: shout was called", flush=True)
        reply(request_id, {"content": [{"type": "text", "text": "HELLO"}]})
    else:
        reply(request_id, error={"code": -32601, "message": f"no method {method}"})
