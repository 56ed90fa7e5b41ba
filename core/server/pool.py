"""The engine processes behind the server, and the fair queue in front of them.

Each engine is the app's own engine child (`EngineClient`), loaded with the user's load
settings. Requests wait in arrival order (asyncio's queue wakes waiters first come, first
served); a request beyond `max_queue` waiters is refused at once rather than left to time out.
Engine calls block, so they run on threads; a client that goes away cancels its generation at
the next token, and the engine goes back to the pool only after its reply has drained.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from core.errors import EngineCrashed

if TYPE_CHECKING:
    from core.engine.client import EngineClient
    from core.engine.types import ModelInfo
    from core.models.load_settings import LoadSettings

log = logging.getLogger(__name__)
T = TypeVar("T")
_END = object()


class QueueFull(Exception):
    """More requests are waiting than the server accepts."""


class EnginePool:
    def __init__(self, model: str | Path | None = None, parallel: int = 1,
                 settings: LoadSettings | None = None, max_queue: int = 64,
                 loras: Sequence[tuple[str, float]] = (),
                 control_vector: tuple[str, float] | None = None) -> None:
        self._spec = model
        self._control_vector = control_vector  # kept applied on every engine
        self._loras = list(loras)  # GGUF LoRA adapters (path, scale) loaded on every engine
        self._parallel = parallel
        self._settings = settings
        self._max_queue = max_queue
        self._engines: list[EngineClient] = []
        self._idle: asyncio.Queue[EngineClient] | None = None
        self._waiting = 0
        self.info: ModelInfo | None = None
        self.name = ""  # what clients call the model: its library name, else the file's stem

    # -- lifetime (blocking; called before the server accepts requests) ---------------------
    def start(self, progress: Callable[[int, int], None] | None = None) -> ModelInfo:
        from core.api import resolve_model, saved_settings, start_engine
        from core.engine.loading import load_model

        path = resolve_model(self._spec)
        settings = self._settings or saved_settings().load
        if settings.threads == 0 and self._parallel > 1:
            # llama.cpp's threads spin at each layer's barrier: engines that together ask
            # for more threads than there are cores slow each other down many times over.
            settings = replace(settings, threads=max(1, (os.cpu_count() or 2) // self._parallel))
        try:
            for i in range(self._parallel):
                engine = start_engine()
                self._engines.append(engine)
                self.info = load_model(engine, path, settings, loras=self._loras)
                if self._control_vector is not None:
                    self.info = engine.set_control_vector(*self._control_vector)
                if progress is not None:
                    progress(i + 1, self._parallel)
        except BaseException:
            self.close()
            raise
        self.name = self._library_name(path)
        return self.info  # type: ignore[return-value]

    def _library_name(self, path: Path) -> str:
        from core.models.registry import ModelRegistry

        if self._spec is not None and not Path(str(self._spec)).is_file():
            return ModelRegistry().get(str(self._spec)).name
        for entry in ModelRegistry().models():
            if Path(entry.path) == Path(path):
                return entry.name
        return Path(path).stem

    def close(self) -> None:
        for engine in self._engines:
            engine.close()
        self._engines.clear()

    @property
    def parallel(self) -> int:
        return len(self._engines)

    @property
    def pids(self) -> list[int]:
        """The engine processes' ids (memory checks, the Server panel)."""
        return [e.pid for e in self._engines if e.pid is not None]

    @property
    def waiting(self) -> int:
        return self._waiting

    def accepts(self, name: str | None) -> bool:
        """Whether a request naming `name` is for the served model. Clients that must name
        some model may also use the file's stem."""
        if not name or self.info is None:
            return True
        return name.lower() in (self.name.lower(), Path(self.info.path).stem.lower())

    # -- requests (on the event loop) --------------------------------------------------------
    def _queue(self) -> asyncio.Queue[EngineClient]:
        if self._idle is None:  # made on first use so it belongs to the serving event loop
            self._idle = asyncio.Queue()
            for engine in self._engines:
                self._idle.put_nowait(engine)
        return self._idle

    @property
    def full(self) -> bool:
        """No engine is free and the queue is at its limit: a new request would be refused."""
        return self._queue().empty() and self._waiting >= self._max_queue

    async def _acquire(self) -> EngineClient:
        idle = self._queue()
        if self.full:
            raise QueueFull(f"{self._waiting} requests are already waiting for the model; "
                            "try again shortly.")
        self._waiting += 1
        try:
            return await idle.get()
        finally:
            self._waiting -= 1

    def _release(self, engine: EngineClient) -> None:
        self._queue().put_nowait(engine)

    async def call(self, work: Callable[[EngineClient], T]) -> T:
        """Run `work(engine)` on a thread with an engine of the pool."""
        engine = await self._acquire()
        try:
            return await asyncio.to_thread(self._guarded, engine, work)
        finally:
            self._release(engine)

    async def stream(self, work: Callable[[EngineClient], Iterator[T]],
                     ) -> AsyncGenerator[T, None]:
        """The events of `work(engine)` as they come. Leaving early (the client went away,
        the request was cancelled) cancels the engine. The engine goes back to the pool as
        soon as its reply has drained, not when the client has read it all: a client that
        never reads its stream holds its own events, never an engine."""
        engine = await self._acquire()
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()
        leased = True  # read and written on the event loop only

        def give_back() -> None:
            nonlocal leased
            leased = False
            self._release(engine)

        def produce() -> None:
            try:
                for event in self._guarded(engine, work):
                    loop.call_soon_threadsafe(events.put_nowait, event)
                    if stop.is_set():
                        engine.cancel()
                loop.call_soon_threadsafe(events.put_nowait, _END)
            except BaseException as exc:  # handed to the consumer, raised there
                loop.call_soon_threadsafe(events.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(give_back)

        producer = loop.run_in_executor(None, produce)
        try:
            while True:
                event = await events.get()
                if event is _END:
                    return
                if isinstance(event, BaseException):
                    raise event
                yield event
        finally:
            stop.set()
            if leased:  # still this request's engine: stop its reply (no await since the check)
                engine.cancel()
            # Shielded: a cancelled request still waits for its engine to drain, so the next
            # request finds it idle.
            await asyncio.shield(producer)

    @staticmethod
    def _guarded(engine: EngineClient, work: Callable[[EngineClient], Any]) -> Any:
        if not engine.alive:
            # The previous request crashed this engine: bring its model back first.
            engine.restart()
        try:
            return work(engine)
        except EngineCrashed:
            log.warning("engine crashed while serving; it restarts for the next request")
            raise

