"""The `mcpServers` configuration file: what other hosts write is read (and kept on save), and
each mistake is a message that names the server and the field, or the line and column."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import toolkit

from core.errors import McpServerError
from core.tools.mcp_config import (
    HttpServer,
    McpConfig,
    StdioServer,
    app_config_path,
    load_app_config,
    load_config,
    parse_config,
    save_config,
)
from core.tools.mcp_host import McpHost

CLAUDE_DESKTOP = """{
  "mcpServers": {
    "files": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/me/notes"],
      "env": {"LOG_LEVEL": "debug"},
      "cwd": "/home/me"
    },
    "notes": {"url": "http://127.0.0.1:8000/mcp", "headers": {"Authorization": "Bearer t0ken"}},
    "old": {"command": "uvx", "args": ["old-server"], "disabled": true, "autoApprove": ["x"]}
  },
  "globalShortcut": "Ctrl+Space"
}"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mcp.json"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_pasted_claude_desktop_file_is_read(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, CLAUDE_DESKTOP))
    files, notes, old = config.servers["files"], config.servers["notes"], config.servers["old"]
    assert isinstance(files, StdioServer) and isinstance(notes, HttpServer)
    assert files.command == "npx" and files.args[-1] == "/home/me/notes"
    assert dict(files.env) == {"LOG_LEVEL": "debug"} and files.cwd == "/home/me"
    assert notes.url == "http://127.0.0.1:8000/mcp"
    assert dict(notes.headers) == {"Authorization": "Bearer t0ken"}
    assert old.disabled and set(config.enabled()) == {"files", "notes"}


def test_save_keeps_every_key_other_hosts_wrote(tmp_path: Path) -> None:
    path = write(tmp_path, CLAUDE_DESKTOP)
    config = load_config(path)
    save_config(config.with_server(HttpServer(name="extra", url="https://example.org/mcp")), path)
    saved = json.loads(path.read_text(encoding="utf-8"))
    original = json.loads(CLAUDE_DESKTOP)
    assert saved["globalShortcut"] == "Ctrl+Space"
    assert saved["mcpServers"]["old"] == original["mcpServers"]["old"]
    assert saved["mcpServers"]["files"] == original["mcpServers"]["files"]
    assert saved["mcpServers"]["extra"] == {"url": "https://example.org/mcp"}
    assert load_config(path).without("extra") == config
    assert [p.name for p in tmp_path.iterdir()] == ["mcp.json"]  # no temporary file left


def test_the_apps_file_lives_in_the_data_folder_and_appears_on_first_save(
        glassbox_home: Path) -> None:
    path = app_config_path()
    assert path == glassbox_home / "mcp.json"
    assert not path.exists() and load_app_config() == McpConfig()
    save_config(McpConfig().with_server(toolkit("kit")))
    assert path.exists() and set(load_app_config().servers) == {"kit"}


def test_vs_code_spelling_and_an_empty_file_are_read(tmp_path: Path) -> None:
    vscode = '{"servers": {"web": {"type": "http", "url": "http://localhost:3000/mcp"}}}'
    web = parse_config(vscode).servers["web"]
    assert isinstance(web, HttpServer) and web.extra == {"type": "http"}
    assert load_config(write(tmp_path, "")).servers == {}
    assert parse_config('{"mcpServers": {}}').servers == {}


@pytest.mark.parametrize(("text", "culprit"), [
    ('{"mcpServers": {"files": {"command": "npx",}}}', "}}}"),  # a trailing comma
    ('{\n  "mcpServers": {\n    "a": {"command": "x"}\n    "b": {}\n}}', '"b"'),  # no comma
])
def test_bad_json_names_line_and_column(tmp_path: Path, text: str, culprit: str) -> None:
    offset = text.index(culprit)
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    path = write(tmp_path, text)
    with pytest.raises(McpServerError, match="not valid JSON") as caught:
        load_config(path)
    assert f"line {line}, column {column}" in str(caught.value)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(("entry", "words"), [
    ({"args": ["x"]}, ['"files"', 'neither "command"', '"url"']),
    ({"command": "", "args": []}, ['"files"', '"command" must be a non-empty string']),
    ({"command": ["npx", "x"]}, ['"files"', '"command"', "not a list"]),
    ({"command": "npx", "args": "-y server"}, ['"files"', '"args" must be a list']),
    ({"command": "npx", "args": ["--port", 8000]}, ['"files"', '"args"[1]', "a number"]),
    ({"command": "npx", "env": {"DEBUG": True}}, ['"files"', '"env"."DEBUG"', "a boolean"]),
    ({"command": "npx", "env": ["A=1"]}, ['"files"', '"env" must be an object']),
    ({"command": "npx", "cwd": 5}, ['"files"', '"cwd"']),
    ({"url": "localhost:8000/mcp"}, ['"files"', "http:// or https://"]),
    ({"url": "http://x/mcp", "headers": {"X-Retries": 3}}, ['"files"', '"headers"."X-Retries"']),
    ({"url": "http://x/mcp", "command": "npx"}, ['"files"', 'both "command" and "url"']),
    ({"type": "sse", "url": "http://x/sse"}, ['"files"', "'sse'", "streamable"]),
    ({"type": "stdio", "url": "http://x/mcp"}, ['"files"', 'needs "command"']),
    ({"command": "npx", "disabled": "yes"}, ['"files"', '"disabled"']),
    ("npx -y server", ['"files"', "not a string"]),
])
def test_each_wrong_entry_names_the_server_and_the_field(entry: object,
                                                         words: list[str]) -> None:
    with pytest.raises(McpServerError) as caught:
        parse_config(json.dumps({"mcpServers": {"files": entry}}))
    for word in words:
        assert word in str(caught.value)


def test_wrong_top_level_shapes() -> None:
    with pytest.raises(McpServerError, match=r'\{"mcpServers"'):
        parse_config('[{"command": "npx"}]')
    with pytest.raises(McpServerError, match='"mcpServers" .* must be an object'):
        parse_config('{"mcpServers": ["files"]}')


def test_a_missing_or_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(McpServerError, match="not found"):
        load_config(tmp_path / "nope.json")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(McpServerError, match="Cannot read"):
        load_config(binary)


def test_a_failed_save_leaves_the_old_file_whole(tmp_path: Path) -> None:
    path = write(tmp_path, CLAUDE_DESKTOP)
    unwritable = McpConfig(extra={"bad": object()})  # json cannot write it
    with pytest.raises(TypeError):
        save_config(unwritable, path)
    assert path.read_text(encoding="utf-8") == CLAUDE_DESKTOP
    assert os.listdir(tmp_path) == ["mcp.json"]


def test_the_host_serves_only_enabled_servers() -> None:
    config = parse_config(CLAUDE_DESKTOP)
    with McpHost(config) as host:  # nothing starts until used
        assert host.servers() == ["files", "notes"]
        assert host.status("files").state == "stopped"


def test_the_sdk_is_not_imported_until_a_server_starts() -> None:
    """The window imports the host at start; the SDK costs seconds, so it waits for a server."""
    code = ("import sys, core.tools.mcp_host, core.tools.mcp_config; "
            "print(sorted(m for m in ('mcp', 'mcp_types', 'httpx2') if m in sys.modules))")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, check=True)
    assert out.stdout.strip() == "[]"
