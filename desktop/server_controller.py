"""Connects the Server tab to a LocalServer run on its own worker thread.

Starting loads the chat model into the server's engines (seconds), so `LocalServer.start()`
and `close()` run on the "glassbox-server" JobThread, never on the GUI thread. The server
lives on that thread: its `close` hook ends it when the window shuts down, even if the start
had not reported back yet. One RequestLog outlives the servers, so the table keeps what came
before a restart; it calls back on uvicorn's thread, and a queued signal brings each record to
the GUI thread.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal

from core.api import (
    ChatMessage,
    LocalServer,
    RequestLog,
    RequestRecord,
    ServerConfig,
    ServerConfigError,
    ServerSettings,
    server_snippets,
)
from desktop.job_thread import JobContext, JobThread
from desktop.store_worker import StoreClient
from ui.server_panel import ServerPanel

if TYPE_CHECKING:
    from core.api import ChatStore

_MASK = "•" * 8  # the key in the snippets while the key field hides it
_ROLES = ("system", "user", "assistant")


class _Relay(QObject):
    """Lives on the GUI thread; `arrived.emit` is safe to call from uvicorn's thread."""

    arrived = Signal(object)


class ServerController(QObject):
    """`model_path_source()`: the chat model's file (what the server serves); `model_name`:
    the name the rest of the window gives it."""

    open_in_learn = Signal(str, str, object)  # the prompt, the reply, its messages

    def __init__(self, store: StoreClient, panel: ServerPanel,
                 model_path_source: Callable[[], str | None],
                 parent: QObject | None = None, *,
                 model_name: Callable[[str], str] | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._panel = panel
        self._model_path = model_path_source
        self._model_name = model_name or (lambda path: Path(path).stem)
        self.log = RequestLog()
        self._relay = _Relay(self)
        self._relay.arrived.connect(panel.add_record, Qt.ConnectionType.QueuedConnection)
        self.log.subscribe(self._relay.arrived.emit)
        self.jobs = JobThread("glassbox-server", self, close=self._close_on_thread)
        self._live: LocalServer | None = None  # owned by the worker thread
        self.server: LocalServer | None = None  # the GUI thread's view of it, once started
        self._start_when_loaded = False
        self._key_source = "none"  # where the saved key is (core.settings.keep_server_key)
        self._served_name = ""
        panel.start_requested.connect(self.start_server)
        panel.stop_requested.connect(self.stop_server)
        panel.settings_changed.connect(self._on_settings_changed)
        panel.generate_key_requested.connect(self._on_generate_key)
        panel.key_visibility_changed.connect(lambda _shown: self._show_snippets())
        panel.open_in_learn_requested.connect(self._on_open_in_learn)
        panel.set_settings(ServerSettings())
        self.on_model_loaded()

    def start(self) -> None:
        """Start the worker; read the saved settings and serve again if it was serving."""
        from core.settings import read

        self.jobs.start()
        from core.settings import with_server_key

        self._store.call(lambda s: with_server_key(read(s.settings, ServerSettings)),
                         self._on_settings_read)

    def _on_settings_read(self, saved: object) -> None:
        assert isinstance(saved, ServerSettings)
        self._key_source = saved.key_source
        self._panel.set_settings(saved)
        if saved.api_key and saved.key_source == "none":
            self._save()  # a key an older version kept in the database: move it out now
        self._show_snippets()
        if saved.running:
            # The chat model may still be loading: serve it, not the library's default.
            if self._model_path():
                self.start_server()
            else:
                self._start_when_loaded = True

    def on_model_loaded(self, *_: object) -> None:
        """Name the chat model in the panel (connect the engine's model_loaded here)."""
        path = self._model_path()
        if self.server is not None:
            return  # the running server keeps its model; the label names that one
        self._panel.set_model(f"{self._model_name(path)} (the chat model)" if path
                              else "the library's default model (no chat model loaded)")
        self._show_snippets()
        if path and self._start_when_loaded:
            self._start_when_loaded = False
            self.start_server()

    # -- start and stop ---------------------------------------------------------------------
    def _config(self) -> ServerConfig:
        chosen = self._panel.settings()
        return ServerConfig(host=chosen.host or "127.0.0.1", port=chosen.port,
                            model=self._model_path(), api_key=chosen.api_key or None,
                            parallel=chosen.parallel)

    def start_server(self) -> None:
        if self.server is not None or self.jobs.busy:
            return
        config = self._config()
        try:
            config.check()  # before any work: an open address without a key never binds
        except ServerConfigError as exc:
            self._panel.show_failed(str(exc))
            return
        self._save(running=True)
        self._panel.show_starting(f"Loading the model for {config.display_host}:"
                                  f"{config.port or 'any free port'}…")

        def job(ctx: JobContext) -> LocalServer:
            server = LocalServer(config, log=self.log)
            server.start(progress=ctx.progress)
            self._live = server
            return server

        self.jobs.call(job, self._on_started, self._on_start_failed, self._panel.show_progress)

    def _on_started(self, server: object) -> None:
        assert isinstance(server, LocalServer)
        self.server = server
        pool = server.pool
        self._served_name = pool.name if pool is not None else ""
        if pool is not None and pool.info is not None:
            shown = self._model_name(pool.info.path)
            self._panel.set_model(shown if shown == pool.name
                                  else f"{shown} (clients call it “{pool.name}”)")
        self._panel.show_running(server.url, pool.parallel if pool is not None else 1)
        self._show_snippets()

    def _on_start_failed(self, exc: BaseException) -> None:
        self._save(running=False)
        self._panel.show_failed(f"The server did not start: {exc}", self._preview_url())

    def stop_server(self) -> None:
        if self.server is None:
            return
        self.server = None
        self._save(running=False)
        self._panel.show_stopping()

        def job(_ctx: JobContext) -> None:
            self._close_on_thread()

        self.jobs.call(job, self._on_stopped, self._on_stopped)

    def _on_stopped(self, *_: object) -> None:
        self._panel.show_stopped(self._preview_url())
        self.on_model_loaded()

    def _close_on_thread(self) -> None:
        live, self._live = self._live, None
        if live is not None:
            live.close()

    @property
    def busy(self) -> bool:
        return self.jobs.busy

    # -- settings and snippets --------------------------------------------------------------
    def _save(self, running: bool | None = None) -> None:
        from dataclasses import replace

        from core.settings import keep_server_key, save

        value = self._panel.settings()
        if running is not None:
            value = replace(value, running=running)

        def keep(store: ChatStore) -> None:
            # On the store's thread, saves in order: each knows where the last put the key.
            kept = keep_server_key(replace(value, key_source=self._key_source))
            self._key_source = kept.key_source
            save(store.settings, kept)

        self._store.call(keep)

    def _on_settings_changed(self) -> None:
        self._save()
        self._show_snippets()

    def _on_generate_key(self) -> None:
        self._panel.set_key(secrets.token_urlsafe(24))

    def _preview_url(self) -> str:
        config = self._config()
        return f"http://{config.display_host}:{config.port or '<port>'}"

    def _show_snippets(self) -> None:
        server = self.server
        url = server.url if server is not None else self._preview_url()
        path = self._model_path()
        # Before it runs, the file's stem: a name the server accepts for its model too.
        model = self._served_name if server is not None else (
            Path(path).stem if path else "default")
        self._panel.set_address(url)  # where it will listen, before it does
        key = self._panel.settings().api_key or None
        shown_key = key if key is None or self._panel.key_shown() else _MASK
        self._panel.set_snippets(server_snippets(url, model, shown_key),
                                 server_snippets(url, model, key))

    # -- Learn ------------------------------------------------------------------------------
    def _on_open_in_learn(self, record_id: int) -> None:
        record = self.log.get(record_id)
        if record is not None and record.inspectable:
            self.open_in_learn.emit(record.prompt, record.reply, chat_messages(record))


def chat_messages(record: RequestRecord) -> list[ChatMessage]:
    """The request's messages as the app's chat messages (text parts only), for Learn to read
    the reply after them; empty for a text completion."""
    out = []
    for message in record.messages:
        content: Any = message.get("content")
        if isinstance(content, list):
            content = "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        role = message.get("role")
        out.append(ChatMessage(role if role in _ROLES else "user",  # type: ignore[arg-type]
                               str(content or "")))
    return out
