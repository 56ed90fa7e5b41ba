"""Tools › MCP servers: the servers of the app's mcp.json, each one's state and tools, Restart,
and the file itself in an editor where a block from another MCP host can be pasted.

A view only: the controller reads and writes the file, validates what was typed and starts the
servers on a worker thread, and calls back here. A bad configuration is reported under the
editor and the typed text stays as it was, so nothing is lost to an error.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFontDatabase, QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.theme import mark_secondary, readable

if TYPE_CHECKING:
    from core.api import ToolSpec

EXAMPLE = """{
  "mcpServers": {
    "files": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/me/notes"]
    },
    "weather": {"url": "http://127.0.0.1:8000/mcp"}
  }
}"""
EDITOR_NOTE = ("The app's MCP configuration (mcp.json), in the “mcpServers” shape other MCP "
               "hosts use: paste theirs here. Saving checks it and restarts the servers.")
NO_SERVERS = "No MCP servers yet: add them in the Configuration tab."
_ERROR_RED = "#d93025"
_STATES = {"ready": "ready", "starting": "starting…", "stopped": "not started",
           "failed": "failed"}


@dataclass(frozen=True)
class ServerRow:
    """A server as the dialog shows it (from the host's ServerStatus)."""

    name: str
    transport: str
    state: str
    error: str | None = None
    tools: int = 0
    stderr_tail: str = ""


def row_text(row: ServerRow) -> str:
    state = _STATES.get(row.state, row.state)
    tools = f" · {row.tools} tools" if row.state == "ready" else ""
    return f"{row.name} — {row.transport} · {state}{tools}"


def _plain(lines: int) -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setReadOnly(True)
    box.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    box.setMaximumHeight(box.fontMetrics().lineSpacing() * lines + 14)
    return box


class McpServersDialog(QDialog):
    server_selected = Signal(str)  # show its tools (starts it if needed)
    restart_requested = Signal(str)
    save_requested = Signal(str)  # the editor's text, to validate, save and apply
    reload_requested = Signal()  # read the file again (the editor's edits are dropped)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("MCP servers")
        self.setObjectName("mcpServers")
        self.resize(860, 600)
        self._rows: dict[str, ServerRow] = {}
        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_servers_page(), "Servers")
        self.tabs.addTab(self._build_editor_page(), "Configuration")
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(close)
        self.set_servers([])

    def _build_servers_page(self) -> QWidget:
        self.servers = QListWidget()
        self.servers.setAccessibleName("MCP servers")
        self.servers.setMinimumWidth(240)
        self.no_servers = QLabel(NO_SERVERS, wordWrap=True)
        mark_secondary(self.no_servers)
        self.state = QLabel(wordWrap=True)
        self.state.setTextFormat(Qt.TextFormat.PlainText)
        self.restart_button = QPushButton("Restart")
        self.restart_button.setToolTip("Stop the server and start it again")
        self.error = QLabel(wordWrap=True)
        self.error.setTextFormat(Qt.TextFormat.PlainText)  # a server's words: never markup
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.stderr_label = QLabel("What the server wrote on stderr (last lines):")
        self.stderr = _plain(6)
        self.tools = QTreeWidget()
        self.tools.setHeaderLabels(["Tool", "Description"])
        self.tools.setRootIsDecorated(False)
        self.tools.setColumnWidth(0, 180)
        self.schema = _plain(12)
        self.schema.setAccessibleName("Input schema")
        self.schema.setPlaceholderText("Pick a tool to see its input schema")
        left = QWidget()
        left_column = QVBoxLayout(left)
        left_column.setContentsMargins(0, 0, 0, 0)
        left_column.addWidget(self.servers, 1)
        left_column.addWidget(self.no_servers)
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(self.state, 1)
        top.addWidget(self.restart_button)
        column.addLayout(top)
        column.addWidget(self.error)
        column.addWidget(self.stderr_label)
        column.addWidget(self.stderr)
        column.addWidget(self.tools, 1)
        column.addWidget(self.schema)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        self.servers.currentRowChanged.connect(self._on_server_chosen)
        self.restart_button.clicked.connect(self._on_restart)
        self.tools.currentItemChanged.connect(self._on_tool_chosen)
        return splitter

    def _build_editor_page(self) -> QWidget:
        note = QLabel(EDITOR_NOTE, wordWrap=True)
        mark_secondary(note)
        self.editor = QPlainTextEdit()
        self.editor.setAccessibleName("MCP configuration (JSON)")
        self.editor.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.editor.setPlaceholderText(EXAMPLE)
        self.config_error = QLabel(wordWrap=True)
        self.config_error.setTextFormat(Qt.TextFormat.PlainText)
        self.config_error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.config_error.hide()
        self.path_label = QLabel(wordWrap=True)
        self.path_label.setTextFormat(Qt.TextFormat.PlainText)
        mark_secondary(self.path_label)
        self.save_button = QPushButton("Save and apply")
        self.revert_button = QPushButton("Revert")
        self.revert_button.setToolTip("Drop the edits: read the file again")
        buttons = QHBoxLayout()
        buttons.addWidget(self.path_label, 1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.save_button)
        page = QWidget()
        column = QVBoxLayout(page)
        column.addWidget(note)
        column.addWidget(self.editor, 1)
        column.addWidget(self.config_error)
        column.addLayout(buttons)
        self.save_button.clicked.connect(lambda: self.save_requested.emit(self.config_text()))
        self.revert_button.clicked.connect(self.reload_requested)
        self._setting = False
        self._edited = False  # typed or pasted since the file was shown
        self.editor.textChanged.connect(self._on_edited)
        return page

    # -- what the controller calls ----------------------------------------------------------
    def _as_error(self, label: QLabel) -> None:
        """Error text in red, still AA against the dialog's background."""
        palette = label.palette()
        background = palette.color(QPalette.ColorRole.Window)
        palette.setColor(QPalette.ColorRole.WindowText, readable(QColor(_ERROR_RED), background))
        label.setPalette(palette)
        font = label.font()
        font.setBold(True)
        label.setFont(font)

    def set_config(self, text: str, path: str, force: bool = False) -> None:
        """The file's text; edits not saved yet are kept unless `force` (Revert, a save)."""
        self.path_label.setText(path)
        if self._edited and not force:
            return
        self._setting = True
        try:
            self.editor.setPlainText(text)
        finally:
            self._setting = False
        self._edited = False
        self.show_config_error(None)

    def config_text(self) -> str:
        return self.editor.toPlainText()

    def show_config_error(self, message: str | None) -> None:
        """A configuration that could not be used (None: it was fine); the text stays."""
        self.config_error.setVisible(bool(message))
        self.config_error.setText(f"Not saved: {message}" if message else "")
        self._as_error(self.config_error)
        if message:
            self.tabs.setCurrentIndex(1)

    def set_servers(self, rows: Sequence[ServerRow]) -> None:
        current = self.current_server()
        self._rows = {r.name: r for r in rows}
        self.servers.blockSignals(True)
        self.servers.clear()
        for row in rows:
            item = QListWidgetItem(row_text(row))
            item.setData(Qt.ItemDataRole.UserRole, row.name)
            self.servers.addItem(item)
        self.servers.blockSignals(False)
        self.no_servers.setVisible(not rows)
        names = [r.name for r in rows]
        if current in names:
            self.servers.setCurrentRow(names.index(current))
            self._show_row(self._rows[current])
        elif rows:
            self.servers.setCurrentRow(0)
        else:
            self._show_row(None)

    def update_server(self, row: ServerRow) -> None:
        self._rows[row.name] = row
        for index in range(self.servers.count()):
            item = self.servers.item(index)
            if item.data(Qt.ItemDataRole.UserRole) == row.name:
                item.setText(row_text(row))
        if self.current_server() == row.name:
            self._show_row(row)

    def set_tools(self, server: str, tools: Sequence[ToolSpec]) -> None:
        if server != self.current_server():
            return
        self.tools.clear()
        for spec in tools:
            item = QTreeWidgetItem([spec.name, spec.description])
            item.setToolTip(1, spec.description)
            item.setData(0, Qt.ItemDataRole.UserRole,
                         json.dumps(spec.parameters, indent=2, ensure_ascii=False))
            self.tools.addTopLevelItem(item)
        self.schema.clear()
        first = self.tools.topLevelItem(0)
        if first is not None:
            self.tools.setCurrentItem(first)

    def current_server(self) -> str | None:
        item = self.servers.currentItem()
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def tool_names(self) -> list[str]:
        items = (self.tools.topLevelItem(i) for i in range(self.tools.topLevelItemCount()))
        return [item.text(0) for item in items if item is not None]

    def _on_edited(self) -> None:
        if not self._setting:
            self._edited = True

    # -- inside -----------------------------------------------------------------------------
    def _show_row(self, row: ServerRow | None) -> None:
        self.restart_button.setEnabled(row is not None)
        self.tools.clear()
        self.schema.clear()
        if row is None:
            self.state.setText("")
            self.error.hide()
            self.stderr_label.hide()
            self.stderr.hide()
            return
        self.state.setText(row_text(row))
        self.error.setText(row.error or "")
        self._as_error(self.error)
        self.error.setVisible(bool(row.error))
        self.stderr.setPlainText(row.stderr_tail)
        self.stderr_label.setVisible(bool(row.stderr_tail))
        self.stderr.setVisible(bool(row.stderr_tail))

    def _on_server_chosen(self, index: int) -> None:
        name = self.current_server()
        if name is None or index < 0:
            return
        self._show_row(self._rows.get(name))
        self.server_selected.emit(name)

    def _on_restart(self) -> None:
        name = self.current_server()
        if name is not None:
            self.state.setText(f"{name}: restarting…")
            self.restart_requested.emit(name)

    def _on_tool_chosen(self, item: QTreeWidgetItem | None, _previous: object) -> None:
        self.schema.setPlainText("" if item is None
                                 else str(item.data(0, Qt.ItemDataRole.UserRole)))
