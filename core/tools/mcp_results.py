"""What the model sees of an MCP server: its tools' names made safe to call, and a tool
result turned into text.

Names: OpenAI's function-name rule (^[A-Za-z0-9_-]{1,64}$) is what llama.cpp's templates and
the server issue's API follow, and two servers may each have a tool called `search`. So the
model calls `SERVER__tool`; a name that needs changing to fit the rule (a space, a dot, over 64
characters, a server name with `__` in it) also gets a short hash of the original, so two
different originals never meet.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from typing import Any

import mcp_types

SEPARATOR = "__"
MAX_NAME = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_HASH_CHARS = 8


def qualified_name(server: str, tool: str) -> str:
    """The name the model calls for `tool` of `server`, within ^[A-Za-z0-9_-]{1,64}$."""
    plain = f"{server}{SEPARATOR}{tool}"
    # A plain name splits back at its first separator, so a server name holding one ("a__b"
    # with tool "c" would meet "a" with tool "b__c") takes the hashed form too.
    if len(plain) <= MAX_NAME and not _UNSAFE.search(plain) and SEPARATOR not in server:
        return plain
    digest = hashlib.sha256(f"{server}\0{tool}".encode()).hexdigest()[:_HASH_CHARS]
    safe_server = _UNSAFE.sub("_", server)[:20] or "server"
    room = MAX_NAME - len(safe_server) - len(SEPARATOR) - 1 - _HASH_CHARS
    safe_tool = _UNSAFE.sub("_", tool)[:room] or "tool"
    return f"{safe_server}{SEPARATOR}{safe_tool}_{digest}"


def result_text(result: mcp_types.CallToolResult) -> str:
    """A tool result as the text given to the model: text parts joined by blank lines, other
    content described in words (the model reads text only), structured content as JSON when
    there is nothing else."""
    parts = [_describe(block) for block in result.content]
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n\n".join(parts)


def _describe(block: Any) -> str:
    if isinstance(block, mcp_types.TextContent):
        return block.text
    if isinstance(block, mcp_types.ImageContent | mcp_types.AudioContent):
        kind = "image" if isinstance(block, mcp_types.ImageContent) else "audio"
        return f"[{kind} ({block.mime_type}, {_decoded_size(block.data)}), not shown to the model]"
    if isinstance(block, mcp_types.EmbeddedResource):
        resource = block.resource
        if isinstance(resource, mcp_types.TextResourceContents):
            return f"[resource {resource.uri}]\n{resource.text}"
        mime = resource.mime_type or "binary data"
        return f"[resource {resource.uri} ({mime}, {_decoded_size(resource.blob)}), not shown]"
    if isinstance(block, mcp_types.ResourceLink):
        about = f": {block.description}" if block.description else ""
        return f"[link to resource {block.uri} ({block.name}){about}]"
    return f"[{getattr(block, 'type', type(block).__name__)} content, not shown to the model]"


def _decoded_size(data: str) -> str:
    try:
        size = len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        size = len(data)
    return f"{size:,} bytes"
