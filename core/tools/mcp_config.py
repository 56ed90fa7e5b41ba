"""The MCP servers a user configured, in the `mcpServers` JSON shape other hosts use.

Claude Desktop, Cursor and LM Studio all read the same file shape, so a user can paste theirs:

    {"mcpServers": {
        "files": {"command": "npx", "args": ["-y", "server-files", "/tmp"], "env": {}, "cwd": "/"},
        "notes": {"url": "http://127.0.0.1:8000/mcp", "headers": {"Authorization": "Bearer x"}}}}

An entry with `command` runs a child process spoken to over stdio; one with `url` is reached over
streamable HTTP. Keys other hosts write and Glassbox does not use are kept as they are (a save
writes them back), and `"disabled": true` keeps an entry without starting it. VS Code's
`{"servers": {...}}` spelling is read too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.atomic import write_text_atomic
from core.config import data_home
from core.errors import McpServerError

# Keys Glassbox reads; everything else in an entry is carried through untouched.
_STDIO_KEYS = ("command", "args", "env", "cwd")
_HTTP_KEYS = ("url", "headers")
_KNOWN_KEYS = frozenset((*_STDIO_KEYS, *_HTTP_KEYS, "disabled", "type"))
# "type" values other hosts write for the two transports Glassbox speaks.
_STDIO_TYPES = frozenset(("stdio",))
_HTTP_TYPES = frozenset(("http", "streamable-http", "streamableHttp", "streamable_http"))


@dataclass(frozen=True)
class StdioServer:
    """A server Glassbox starts as a child process and speaks to over its stdin/stdout."""

    name: str
    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    disabled: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)  # other hosts' keys, written back

    @property
    def transport(self) -> str:
        return "stdio"


@dataclass(frozen=True)
class HttpServer:
    """A server already running somewhere, reached over streamable HTTP at `url`."""

    name: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    disabled: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def transport(self) -> str:
        return "http"


ServerConfig = StdioServer | HttpServer


@dataclass(frozen=True)
class McpConfig:
    """Every configured server by name, disabled ones included (so a save loses none)."""

    servers: Mapping[str, ServerConfig] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)  # top-level keys besides mcpServers

    def enabled(self) -> dict[str, ServerConfig]:
        return {name: s for name, s in self.servers.items() if not s.disabled}

    def with_server(self, server: ServerConfig) -> McpConfig:
        """A copy with `server` added, or replacing the entry of the same name."""
        return replace(self, servers={**self.servers, server.name: server})

    def without(self, name: str) -> McpConfig:
        return replace(self, servers={n: s for n, s in self.servers.items() if n != name})


def app_config_path() -> Path:
    """The app's own file; it moves with GLASSBOX_HOME and is created by the first save."""
    return data_home() / "mcp.json"


def load_app_config() -> McpConfig:
    """The app's configuration; an empty one while the file does not exist yet."""
    path = app_config_path()
    return load_config(path) if path.exists() else McpConfig()


def load_config(path: Path | str) -> McpConfig:
    """Read a file in the `mcpServers` shape. Raises McpServerError naming the line and
    column of bad JSON, or the server and field that is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise McpServerError(f"MCP configuration file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise McpServerError(f"Cannot read the MCP configuration file {path}: {exc}") from exc
    return parse_config(text, source=str(path))


def parse_config(text: str, source: str = "the MCP configuration") -> McpConfig:
    """Parse JSON text in the `mcpServers` shape (a file's content, or what a user pasted)."""
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise McpServerError(
            f"{source} is not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(data, dict):
        raise McpServerError(f'{source} must hold a JSON object like {{"mcpServers": {{...}}}}, '
                             f"not {_json_type(data)}")
    key = "mcpServers" if "mcpServers" in data or "servers" not in data else "servers"
    entries = data.get(key, {})
    if not isinstance(entries, dict):
        raise McpServerError(f'"{key}" in {source} must be an object of servers by name, '
                             f"not {_json_type(entries)}")
    servers = {name: _parse_server(name, entry, source) for name, entry in entries.items()}
    return McpConfig(servers=servers, extra={k: v for k, v in data.items() if k != key})


def save_config(config: McpConfig, path: Path | str | None = None) -> Path:
    """Write `config` (to the app's file by default) atomically: a crash mid-write leaves the
    old file whole. Returns the path written."""
    path = Path(path) if path is not None else app_config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(to_json(config), indent=2, ensure_ascii=False) + "\n")
    return path


def to_json(config: McpConfig) -> dict[str, Any]:
    """The `mcpServers` shape of `config`, with every key other hosts wrote kept."""
    servers: dict[str, Any] = {}
    for name, server in config.servers.items():
        entry: dict[str, Any] = dict(server.extra)
        if isinstance(server, StdioServer):
            entry["command"] = server.command
            entry["args"] = list(server.args)
            if server.env:
                entry["env"] = dict(server.env)
            if server.cwd is not None:
                entry["cwd"] = server.cwd
        else:
            entry["url"] = server.url
            if server.headers:
                entry["headers"] = dict(server.headers)
        if server.disabled:
            entry["disabled"] = True
        servers[name] = entry
    return {**config.extra, "mcpServers": servers}


def _parse_server(name: str, entry: object, source: str) -> ServerConfig:
    where = f'MCP server "{name}" in {source}'
    if not name.strip():
        raise McpServerError(f"A server in {source} has an empty name")
    if not isinstance(entry, dict):
        raise McpServerError(f"{where} must be an object with a \"command\" or a \"url\", "
                             f"not {_json_type(entry)}")
    disabled = entry.get("disabled", False)
    if not isinstance(disabled, bool):
        raise McpServerError(f'{where}: "disabled" must be true or false')
    kind = entry.get("type")
    if kind is not None and kind not in _STDIO_TYPES | _HTTP_TYPES:
        raise McpServerError(f'{where}: "type" is {kind!r}; Glassbox speaks "stdio" (with '
                             f'"command") and streamable "http" (with "url")')
    has_command, has_url = "command" in entry, "url" in entry
    if has_command and has_url:
        raise McpServerError(f'{where} has both "command" and "url": keep "command" for a '
                             f'server Glassbox starts, or "url" for one already running')
    if not has_command and not has_url:
        raise McpServerError(f'{where} has neither "command" (a program to start) nor "url" '
                             f"(a streamable HTTP endpoint)")
    if (kind in _STDIO_TYPES and not has_command) or (kind in _HTTP_TYPES and not has_url):
        needed = "command" if kind in _STDIO_TYPES else "url"
        raise McpServerError(f'{where}: "type" is {kind!r}, which needs "{needed}"')
    extra = {k: v for k, v in entry.items() if k not in _KNOWN_KEYS}
    if kind is not None:
        extra["type"] = kind
    if has_command:
        return StdioServer(
            name=name, command=_text(entry["command"], where, "command"),
            args=tuple(_strings(entry.get("args", []), where, "args")),
            env=_string_map(entry.get("env", {}), where, "env"),
            cwd=_text(entry["cwd"], where, "cwd") if entry.get("cwd") is not None else None,
            disabled=disabled, extra=extra)
    url = _text(entry["url"], where, "url")
    if not url.startswith(("http://", "https://")):
        raise McpServerError(f'{where}: "url" must start with http:// or https://, got {url!r}')
    return HttpServer(name=name, url=url, headers=_string_map(entry.get("headers", {}), where,
                                                              "headers"),
                      disabled=disabled, extra=extra)


def _text(value: object, where: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise McpServerError(f'{where}: "{key}" must be a non-empty string, not '
                             f"{_json_type(value)}")
    return value


def _strings(value: object, where: str, key: str) -> list[str]:
    if not isinstance(value, list):
        raise McpServerError(f'{where}: "{key}" must be a list of strings, not {_json_type(value)}')
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise McpServerError(f'{where}: "{key}"[{index}] must be a string, not '
                                 f"{_json_type(item)} (quote numbers: \"{item}\")")
    return list(value)


def _string_map(value: object, where: str, key: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise McpServerError(f'{where}: "{key}" must be an object of strings, not '
                             f"{_json_type(value)}")
    for item_key, item in value.items():
        if not isinstance(item, str):
            raise McpServerError(f'{where}: "{key}"."{item_key}" must be a string, not '
                                 f"{_json_type(item)}")
    return dict(value)


def _json_type(value: object) -> str:
    """The JSON name of a parsed value's type, as the user wrote it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"
