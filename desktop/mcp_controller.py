"""The window's MCP host and its settings dialog.

The window owns one McpHost (made on first use, from the app's mcp.json) and closes it on
quit: it is closed by this controller's worker thread, which the window's shutdown stops like
every other. Starting a server, listing its tools, restarting it and checking a new
configuration run on that thread (a server can take seconds to start, or hang until its
timeout); the engine's thread reaches the host through `host()` (the host is thread-safe).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from core.api import GlassboxError
from desktop import tools_wiring as wiring
from desktop.job_thread import JobContext, JobThread
from ui.mcp_servers_view import McpServersDialog, ServerRow

log = logging.getLogger(__name__)


class McpController(QObject):
    servers_changed = Signal(list)  # the configured servers' names

    def __init__(self, dialog_parent: QWidget | None, show_error: Callable[[str], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._dialog_parent = dialog_parent
        self._show_error = show_error
        self._lock = threading.Lock()
        self._host: Any = None
        self._closed = False
        self.names: list[str] = []
        self.dialog: McpServersDialog | None = None
        self.jobs = JobThread("glassbox-mcp", self, close=self._close_host)

    # -- any thread -------------------------------------------------------------------------
    def host(self) -> Any:
        """The window's McpHost, made on first use (the engine's thread asks for it when a
        chat uses an MCP server)."""
        with self._lock:
            if self._closed:
                return None
            if self._host is None:
                self._host = wiring.make_host()
            return self._host

    def _apply(self, config: Any) -> Any:
        """The host takes a new configuration: changed and removed servers stop, unchanged
        ones keep running (a host not made yet reads the file when it is)."""
        with self._lock:
            host = self._host
        if host is None:
            return self.host()
        host.configure(config)
        return host

    def _close_host(self) -> None:
        with self._lock:
            self._closed = True
            host, self._host = self._host, None
        if host is not None:
            try:
                host.close()
            except Exception:  # the window is closing: log it, never block the exit on it
                log.exception("closing the MCP host failed")

    # -- GUI thread -------------------------------------------------------------------------
    def start(self) -> None:
        self.jobs.start()
        self.refresh()

    def _current_host(self) -> Any:
        with self._lock:
            return self._host

    def refresh(self, force: bool = False) -> None:
        """Read the configuration: the servers' names and states (and the editor's text).
        No server is started for it: until one is used, they are listed as not started."""
        def job(_ctx: JobContext) -> tuple[str, str, list[ServerRow], str | None]:
            text = wiring.read_mcp_config_text()
            host = self._current_host()
            try:
                rows = wiring.server_rows(host) if host is not None else \
                    wiring.config_rows(text)
            except GlassboxError as exc:  # a file edited by hand: show it, say what is wrong
                return text, str(wiring.mcp_config_path()), [], str(exc)
            return text, str(wiring.mcp_config_path()), rows, None

        self.jobs.call(job, lambda result: self._on_config(result, force), self._on_error)

    def open_dialog(self) -> McpServersDialog:
        if not self.jobs.qthread.isRunning():
            self.jobs.start()
        if self.dialog is None:
            self.dialog = McpServersDialog(self._dialog_parent)
            self.dialog.server_selected.connect(self.show_tools)
            self.dialog.restart_requested.connect(self.restart)
            self.dialog.save_requested.connect(self.save)
            self.dialog.reload_requested.connect(lambda: self.refresh(force=True))
        self.dialog.show()
        self.dialog.raise_()
        self.refresh()
        return self.dialog

    def show_tools(self, name: str) -> None:
        """Start the server if needed and list its tools (its state comes back either way)."""
        def job(_ctx: JobContext) -> tuple[ServerRow | None, list[Any], str | None]:
            host = self.host()
            problem = None
            tools: list[Any] = []
            try:
                tools = list(wiring.server_tools(host, name))
            except Exception as exc:  # the server's state row says what happened
                problem = str(exc)
            row = next((r for r in wiring.server_rows(host) if r.name == name), None)
            return row, tools, problem

        self.jobs.call(job, lambda result: self._on_tools(name, *result), self._on_error)

    def restart(self, name: str) -> None:
        def job(_ctx: JobContext) -> None:
            host = self.host()
            try:
                host.restart(name)
            except Exception as exc:  # shown in the server's row, not as a window error
                log.info("restarting MCP server %s failed: %s", name, exc)

        self.jobs.call(job, lambda _: self.show_tools(name), self._on_error)

    def save(self, text: str) -> None:
        """Check the typed configuration, write it, and apply it (a new host)."""
        def job(_ctx: JobContext) -> tuple[str, str, list[ServerRow], str | None]:
            host = self._apply(wiring.save_mcp_config_text(text))
            return text, str(wiring.mcp_config_path()), wiring.server_rows(host), None

        self.jobs.call(job, lambda result: self._on_config(result, True), self._on_config_error)

    # -- results ----------------------------------------------------------------------------
    def _on_config(self, result: tuple[str, str, list[ServerRow], str | None],
                   force: bool = False) -> None:
        text, path, rows, problem = result
        self.names = [r.name for r in rows]
        if self.dialog is not None:
            self.dialog.set_config(text, path, force)
            self.dialog.set_servers(rows)
        if problem:
            self._on_config_error(GlassboxError(problem))
        self.servers_changed.emit(list(self.names))

    def _on_tools(self, name: str, row: ServerRow | None, tools: list[Any],
                  problem: str | None) -> None:
        if self.dialog is None:
            return
        if row is not None:
            if problem and not row.error:
                row = ServerRow(row.name, row.transport, row.state, problem, row.tools,
                                row.stderr_tail)
            self.dialog.update_server(row)
        self.dialog.set_tools(name, tools)

    def _on_config_error(self, error: BaseException) -> None:
        if self.dialog is not None:
            self.dialog.show_config_error(str(error))
        else:
            self._show_error(str(error))

    def _on_error(self, error: BaseException) -> None:
        self._show_error(str(error))
