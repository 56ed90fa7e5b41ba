"""Tools › MCP servers (pytest-qt, real widgets): the servers and their tools, a bad
configuration reported with the typed text kept, and a real stdio MCP server (the SDK's
MCPServer, started by the test through the window's controller) listed with its tools."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from core.tools.types import ToolSpec
from ui.mcp_servers_view import NO_SERVERS, McpServersDialog, ServerRow

SERVER = Path(__file__).with_name("mcp_weather_server.py")
WEATHER = ToolSpec("weather", "Today's weather for a city.",
                   {"type": "object", "properties": {"city": {"type": "string"}},
                    "required": ["city"]}, source="mcp:weather")


def _dialog(qtbot: QtBot) -> McpServersDialog:
    dialog = McpServersDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def test_no_servers_says_where_to_add_them(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot)
    assert dialog.no_servers.isVisible() and dialog.no_servers.text() == NO_SERVERS
    assert not dialog.restart_button.isEnabled()


def test_servers_show_state_error_stderr_and_tools(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot)
    rows = [ServerRow("weather", "stdio", "ready", tools=1),
            ServerRow("broken", "stdio", "failed", error="MCP server 'broken' exited with "
                      "code 1 before it answered", stderr_tail="Traceback: <b>boom</b>")]
    with qtbot.waitSignal(dialog.server_selected) as heard:
        dialog.set_servers(rows)
    assert heard.args == ["weather"]
    assert dialog.servers.item(0).text() == "weather — stdio · ready · 1 tools"
    dialog.set_tools("weather", [WEATHER])
    assert dialog.tool_names() == ["weather"]
    assert json.loads(dialog.schema.toPlainText()) == WEATHER.parameters
    dialog.servers.setCurrentRow(1)
    assert dialog.error.isVisible() and "exited with code 1" in dialog.error.text()
    assert dialog.stderr.toPlainText() == "Traceback: <b>boom</b>"  # a server's text: literal
    assert dialog.error.textFormat() == Qt.TextFormat.PlainText
    with qtbot.waitSignal(dialog.restart_requested) as restart:
        dialog.restart_button.click()
    assert restart.args == ["broken"]


def test_config_error_is_shown_and_the_text_kept(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot)
    typed = '{"mcpServers": {"files": {"command": "npx",}}}'
    dialog.editor.setPlainText(typed)
    with qtbot.waitSignal(dialog.save_requested) as heard:
        dialog.save_button.click()
    assert heard.args == [typed]
    dialog.show_config_error("The configuration is not valid JSON: line 1, column 45")
    assert dialog.config_error.isVisible() and "line 1, column 45" in dialog.config_error.text()
    assert dialog.config_text() == typed  # nothing the user typed is lost
    assert dialog.tabs.currentIndex() == 1
    dialog.show_config_error(None)
    assert not dialog.config_error.isVisible()


# -- the controller, over the real configuration and host -----------------------------------
@pytest.fixture
def mcp(qtbot: QtBot, glassbox_home: Path):  # type: ignore[no-untyped-def]
    pytest.importorskip("core.tools.mcp_host", reason="the MCP host lands with tools-mcp")
    from desktop.mcp_controller import McpController

    errors: list[str] = []
    parent = QWidget()
    qtbot.addWidget(parent)
    controller = McpController(parent, errors.append, parent)
    controller.start()
    yield controller, errors
    controller.jobs.stop()


def test_bad_json_is_reported_and_nothing_is_written(qtbot: QtBot, mcp) -> None:  # type: ignore[no-untyped-def]
    from desktop.tools_wiring import mcp_config_path

    controller, _errors = mcp
    dialog = controller.open_dialog()
    qtbot.addWidget(dialog)
    typed = '{\n  "mcpServers": {\n    "files": {"command": "npx",}\n  }\n}'
    dialog.editor.setPlainText(typed)
    dialog.save_button.click()
    qtbot.waitUntil(dialog.config_error.isVisible, timeout=10_000)
    message = dialog.config_error.text()
    assert "not valid JSON" in message and "line 3" in message
    assert dialog.config_text() == typed
    assert not mcp_config_path().exists()
    dialog.editor.setPlainText('{"mcpServers": {"x": {"args": ["a"]}}}')  # no command, no url
    dialog.save_button.click()
    qtbot.waitUntil(lambda: "x" in dialog.config_error.text(), timeout=10_000)
    assert not mcp_config_path().exists()


def test_a_real_stdio_server_lists_its_tools(qtbot: QtBot, mcp) -> None:  # type: ignore[no-untyped-def]
    from desktop.tools_wiring import mcp_config_path

    controller, errors = mcp
    dialog = controller.open_dialog()
    qtbot.addWidget(dialog)
    config = {"mcpServers": {"weather": {"command": sys.executable, "args": [str(SERVER)]}}}
    qtbot.waitUntil(lambda: not controller.jobs.busy, timeout=10_000)  # the dialog's read
    heard: list[list[str]] = []
    controller.servers_changed.connect(heard.append)
    dialog.editor.setPlainText(json.dumps(config, indent=2))
    dialog.save_button.click()
    qtbot.waitUntil(lambda: bool(heard), timeout=20_000)
    assert heard == [["weather"]]
    assert json.loads(mcp_config_path().read_text())["mcpServers"]["weather"]["args"] == \
        [str(SERVER)]
    qtbot.waitUntil(lambda: dialog.tool_names() == ["weather"], timeout=60_000)
    assert json.loads(dialog.schema.toPlainText())["required"] == ["city"]
    assert "ready" in dialog.servers.item(0).text()
    assert not errors
