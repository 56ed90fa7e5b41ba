"""uvicorn over the app: in a thread for the desktop's Server panel and the tests, in the
foreground for `glassbox serve`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.server.config import ServerConfig
from core.server.pool import EnginePool
from core.server.request_log import RequestLog
from core.server.state import ServerState

if TYPE_CHECKING:
    from core.models.load_settings import LoadSettings

_START_TIMEOUT_S = 30.0


class LocalServer:
    """Loads the model into `config.parallel` engines, then serves. Blocking calls: run
    them off the GUI thread."""

    def __init__(self, config: ServerConfig, log: RequestLog | None = None,
                 load: LoadSettings | None = None) -> None:
        config.check()
        self.config = config
        self._load = load  # None: the load settings saved in the app
        self.log = log or RequestLog(path=config.log_path)
        self.pool: EnginePool | None = None
        self._server: Any = None  # uvicorn.Server, imported only when serving
        self._thread: threading.Thread | None = None

    def _prepare(self, progress: Callable[[int, int], None] | None = None) -> Any:
        import uvicorn

        from core.api import saved_settings
        from core.server.app import create_app

        settings = self._load or saved_settings().load
        if self.config.n_ctx:
            from dataclasses import replace

            settings = replace(settings, n_ctx=self.config.n_ctx)
        self.pool = EnginePool(self.config.model, self.config.parallel, settings,
                               self.config.max_queue, loras=self.config.loras,
                               control_vector=self.config.control_vector)
        self.pool.start(progress)
        app = create_app(ServerState(self.config, self.pool, self.log))
        uv_config = uvicorn.Config(app, host=self.config.host, port=self.config.port,
                                   log_level="warning", access_log=False, lifespan="off",
                                   timeout_graceful_shutdown=3)
        self._server = uvicorn.Server(uv_config)
        return self._server

    def start(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Load the model and serve on a thread; returns once the port is open."""
        server = self._prepare(progress)
        self._thread = threading.Thread(target=server.run, name="glassbox-server",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            if not self._thread.is_alive():
                self.close()
                raise OSError(f"The server could not listen on {self.config.display_host}:"
                              f"{self.config.port} (is the port in use?).")
            if time.monotonic() > deadline:
                self.close()
                raise OSError("The server did not start in time.")
            time.sleep(0.02)

    def serve_forever(self, progress: Callable[[int, int], None] | None = None,
                      ready: Callable[[LocalServer], None] | None = None) -> None:
        """Serve in this thread until Ctrl+C (uvicorn handles the signal)."""
        server = self._prepare(progress)
        if ready is not None:
            original = server.startup

            async def startup(*args: object, **kwargs: object) -> None:
                await original(*args, **kwargs)
                ready(self)

            server.startup = startup
        try:
            server.run()
        finally:
            self.close()

    @property
    def port(self) -> int:
        server = self._server
        if server is not None and getattr(server, "servers", None):
            for listener in server.servers:
                for sock in listener.sockets:
                    return int(sock.getsockname()[1])
        return self.config.port

    @property
    def url(self) -> str:
        return f"http://{self.config.display_host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        """Stop serving (in-flight streams are cut after a short grace) and end the engines."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(10)
        self._thread = None
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
