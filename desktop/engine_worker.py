"""The model's thread: one EngineClient, its own ChatStore and a ChatSession, fed by signals.

The engine modules are imported in `start()`, on the worker thread, so the window shows first;
the handle runs `start()` and `close()` as its JobThread's open and close hooks.
Only `stop()` and `stop_all()` are called from the GUI thread: they set flags and call the
client's thread-safe `cancel()`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QThread, Signal

from core.api import (
    AgentFinished,
    CallDecided,
    CallFinished,
    CallProposed,
    DoneEvent,
    EngineCrashed,
    GlassboxError,
    LoadSettings,
    ModelInfo,
    ModelLoadError,
    NeedsLocalModel,
    SamplingSettings,
    StepFinished,
    StepStarted,
    TextPiece,
    TokenEvent,
)
from core.engine.load_guard import LoadGuard
from core.models.bundled import COMPARISON_BASE_ID, comparison_base_model, prepare
from core.settings import read
from desktop.job_thread import JobContext, JobThread
from desktop.remote_switch import is_remote, switch_engine

if TYPE_CHECKING:
    from core.api import ChatSession, ChatStore, DocumentLibrary, EngineClient, Hit, RemoteEngine
    from desktop.tools_consent import ConsentBroker

log = logging.getLogger(__name__)

_STOP_WAIT_MS = 20_000
AGENT_EVENTS = (StepStarted, TextPiece, CallProposed, CallDecided, CallFinished, StepFinished,
                AgentFinished)


class EngineWorker(QObject):
    model_loaded = Signal(object)  # ModelInfo
    model_failed = Signal(str)
    reply_started = Signal(int, int)  # chat id, reply message id
    token = Signal(int, str)  # chat id, text
    reply_finished = Signal(int, object, str)  # chat id, GenerationStats, finish reason
    reply_failed = Signal(int, str)  # chat id, message for a person
    engine_crashed = Signal(str)
    # The running model's engine died (a reply or an inspection, not a load): its path and
    # the message. The engine is up again without a model; the window offers to reload it.
    model_crashed = Signal(str, str)
    inspected = Signal(int, object)  # request id, a view from core.engine.introspect
    inspect_failed = Signal(int, str)  # request id, message for a person
    # A Learn request that a remote model cannot answer (after inspect_failed, same message):
    # the window offers to load a local model.
    needs_local_model = Signal(str)
    searching = Signal(int)  # chat id: retrieval for a grounded reply has begun
    grounded = Signal(int, int, object)  # chat id, reply message id, core.rag Grounding
    agent_event = Signal(int, object)  # chat id, a core.tools.types AgentEvent

    def __init__(self, db_path: Path, home: Path) -> None:
        super().__init__()
        self._db_path = db_path
        self._guard = LoadGuard(home)
        self._home = home
        self._engine: EngineClient | RemoteEngine | None = None
        self._local: EngineClient | None = None  # kept while a remote engine answers
        self._store: ChatStore | None = None
        self._session: ChatSession | None = None
        self._library: DocumentLibrary | None = None  # opened on the first grounded reply
        self._last_path: str | None = None
        self._stop = threading.Event()  # stop the current reply (set from the GUI thread)
        self._closing = threading.Event()  # the window is closing: run nothing more
        # Set by the tools controller before the thread starts (desktop/tools_controller.py):
        # the consent callback's broker, the chat's (tool choice, step limit), the MCP host.
        self.consent: ConsentBroker | None = None
        self.tool_run: Callable[[int], tuple[str, int]] | None = None
        self.mcp_host: Callable[[], Any] | None = None

    # -- GUI thread -------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()
        if self.consent is not None:
            self.consent.release_all()  # a card waiting for an answer is answered "deny"
        engine = self._engine
        if engine is not None:
            engine.cancel()

    def stop_all(self) -> None:
        self._closing.set()
        self.stop()

    def clear_stop(self) -> None:
        """Called by the GUI thread just before it asks for a new reply."""
        self._stop.clear()
        if self.consent is not None:
            self.consent.reset()

    # -- worker thread ----------------------------------------------------------------------
    def start(self) -> None:
        from core.api import ChatSession, ChatStore, EngineClient

        self._store = ChatStore(self._db_path)
        self._engine = self._local = EngineClient()
        self._session = ChatSession(self._store, self._engine, search=self._search,
                                    **self._session_tools(ChatSession))
        try:
            self._engine.start()
        except Exception as exc:  # the child will be started again on the first request
            log.warning("could not start the engine process: %s", exc)

    def _session_tools(self, session_type: type) -> dict[str, Any]:
        """ChatSession's toolbox factory (desktop/tools_wiring)."""
        from desktop import tools_wiring

        host = self.mcp_host or (lambda: None)
        return {"toolbox_for": tools_wiring.toolbox_factory(self._search, host)}

    def _tool_kwargs(self, chat_id: int, method: Callable[..., Any]) -> dict[str, Any]:
        """consent, cancel and tool choice for a reply, as `method` (a ChatSession reply
        method) takes them; the chat's step limit goes on the session."""
        from desktop import tools_wiring

        choice, steps = self.tool_run(chat_id) if self.tool_run is not None else (None, None)
        if steps is not None and self._session is not None:
            tools_wiring.set_step_limit(self._session, steps)
        return tools_wiring.reply_kwargs(
            method, consent=self.consent.ask if self.consent else None, cancel=self._stop,
            tool_choice=choice, max_steps=steps)

    def _search(self, query: str, collections: Sequence[str], top_k: int) -> list[Hit]:
        """Retrieval for grounded replies, on this thread with its own connection; the
        embedding model loads on first use (seconds), never at start-up."""
        from core.api import DocumentLibrary
        from core.rag.grounding import searcher

        if self._library is None:
            self._library = DocumentLibrary(self._db_path)
        return searcher(self._library)(query, collections, top_k)

    def load_model(self, path: str, loras: Sequence[tuple[str, float]] = ()) -> None:
        """Load a GGUF file on the local engine (with LoRA adapters at their scales), or use a
        remote engine's model for a "remote:NAME/MODEL" path (remote_switch.py): the chat
        session follows either."""
        if self._closing.is_set() or self._engine is None:
            return
        if is_remote(path) or self._engine is not self._local:
            if loras:
                self.model_failed.emit("LoRA adapters apply to a local model's weights: load "
                                       "the base model's file, not a server's model.")
                return
            self._switch(path)
            return
        try:
            info = self._load(path, loras)
        except EngineCrashed as exc:
            self.model_failed.emit(str(exc))
            self._restart(str(exc))
        except GlassboxError as exc:
            self.model_failed.emit(str(exc))
        else:
            self._last_path = path
            self.model_loaded.emit(info)

    def _switch(self, path: str) -> None:
        assert self._local is not None and self._session is not None
        assert self._engine is not None
        try:
            engine, info = switch_engine(self._engine, self._local, path, self._db_path)
        except GlassboxError as exc:
            self.model_failed.emit(str(exc))
            return
        # The session takes either engine: RemoteEngine has EngineClient's interface.
        self._engine = engine
        self._session.engine = engine  # type: ignore[assignment]
        if info is None:  # back on the local engine: load the file there
            self.load_model(path)
            return
        self._last_path = path
        self.model_loaded.emit(info)

    def _load(self, path: str, loras: Sequence[tuple[str, float]] = ()) -> ModelInfo:
        assert self._engine is not None and self._store is not None
        from core.models.load_settings import load_options

        prepare(path)  # a bundled model listed before its first use is assembled now
        options = load_options(read(self._store.settings, LoadSettings), path)
        self._guard.begin(path)
        try:
            return self._engine.load(path, **options, loras=loras)
        finally:
            self._guard.end()

    def set_lora_scales(self, scales: dict[str, float]) -> None:
        """New scales for the loaded adapters, without reloading the model (llama.cpp applies
        adapters at run time): the next reply and every Learn view use them."""
        self._adjust(lambda engine: engine.set_lora_scales(scales),
                     "A server's model has no adapters to scale here.")

    def set_control_vector(self, path: str | None, strength: float) -> None:
        """Steer every reply with a control vector (llama.cpp applies it at run time, the
        model stays loaded), or stop steering with None; a restart keeps it as it is."""
        self._adjust(lambda engine: engine.set_control_vector(path, strength),
                     "A server's model cannot be steered here: steering adds a vector inside "
                     "a local model.")

    def _adjust(self, change: Callable[[EngineClient], ModelInfo], on_remote: str) -> None:
        """Change the loaded local model at run time and announce it as loaded again; a
        server's model refuses with `on_remote`, a crash restarts the engine."""
        if self._closing.is_set() or self._engine is None:
            return
        try:
            if self._engine is not self._local or self._local is None:
                raise ModelLoadError(on_remote)
            info = change(self._local)
        except EngineCrashed as exc:
            self.model_failed.emit(str(exc))
            self._restart(str(exc))
        except GlassboxError as exc:
            self.model_failed.emit(str(exc))
        else:
            self.model_loaded.emit(info)

    def send(self, chat_id: int, text: str) -> None:
        self._run_reply(chat_id, lambda s, sampling: s.send(
            chat_id, text, sampling, **self._tool_kwargs(chat_id, s.send)))

    def regenerate(self, chat_id: int) -> None:
        self._run_reply(chat_id, lambda s, sampling: s.regenerate(
            chat_id, sampling, **self._tool_kwargs(chat_id, s.regenerate)))

    def edit_last(self, chat_id: int, text: str) -> None:
        self._run_reply(chat_id, lambda s, sampling: s.edit_last_user(
            chat_id, text, sampling, **self._tool_kwargs(chat_id, s.edit_last_user)))

    def _comparison_base(self) -> str:
        path = comparison_base_model(self._home / "models")
        if path is None:
            raise ModelLoadError("The comparison model (Gemma 3 270M) is not installed: run "
                                 "`make run` once, or pick another GGUF file to compare with.")
        return str(path)

    def inspect(self, request_id: int, what: str, kwargs: dict[str, Any]) -> None:
        """Run one Learn-panel request on the model: a key of `methods`, its keyword arguments."""
        if self._engine is None or self._closing.is_set():
            return
        engine = self._engine
        methods: dict[str, Callable[..., Any]] = {
                   "tokens": engine.tokenize, "next": engine.next_token,
                   "surprise": engine.surprise, "template": engine.render_prompt,
                   "attention": engine.attention, "lens": engine.logit_lens,
                   "anatomy": engine.anatomy, "histogram": engine.weight_histogram,
                   "attribution_estimate": engine.attribution_estimate}
        try:
            if kwargs.get("model_path") == COMPARISON_BASE_ID:
                kwargs = {**kwargs, "model_path": self._comparison_base()}
            result = methods[what](**kwargs)
        except EngineCrashed as exc:
            self.inspect_failed.emit(request_id, str(exc))
            self._model_crashed(str(exc))
        except NeedsLocalModel as exc:
            self.inspect_failed.emit(request_id, str(exc))
            self.needs_local_model.emit(str(exc))
        except GlassboxError as exc:
            self.inspect_failed.emit(request_id, str(exc))
        else:
            self.inspected.emit(request_id, result)

    def attribute(self, request: Any, ctx: JobContext) -> Any:
        """An occlusion attribution on the loaded model (a job of its own on this thread):
        progress to `ctx`, the AttributionResult returned. `stop()` cancels it."""
        from core.engine.attribution_types import AttributionResult

        if self._engine is None or self._closing.is_set():
            raise GlassboxError("The model engine is not running: load a model first.")
        result = None
        try:
            for event in self._engine.attribute(request):
                if isinstance(event, AttributionResult):
                    result = event
                else:
                    ctx.progress(event.done, event.total)
                    if self._stop.is_set():
                        # A Cancel pressed before this job began was cleared when the request
                        # went out (each request starts uncancelled): pass it on now.
                        self._engine.cancel()
        except EngineCrashed as exc:
            self._model_crashed(str(exc))
            raise
        return result

    def close(self) -> None:
        """On the worker thread, when it stops: the engine child and the connections."""
        engine, store, library = self._engine, self._store, self._library
        local, self._local = self._local, None
        self._engine = self._store = self._session = self._library = None
        try:
            if engine is not None and engine is not local:
                engine.close()  # a remote engine: its connections
            if local is not None:
                local.close()
        except Exception:  # the thread must end whatever state the child is in
            log.exception("closing the engine failed")
        finally:
            if store is not None:
                store.close()
            if library is not None:
                library.close()

    def _run_reply(self, chat_id: int,
                   start: Callable[[ChatSession, SamplingSettings], Iterator[object]]) -> None:
        from core.api import Grounded, ReplyStarted, SearchingDocuments

        if self._session is None or self._store is None or self._closing.is_set():
            self.reply_failed.emit(chat_id, "Glassbox is closing: the message was not sent.")
            return
        sampling = read(self._store.settings, SamplingSettings)
        try:
            for event in start(self._session, sampling):
                if self._stop.is_set() and self._engine is not None:
                    self._engine.cancel()  # a Stop that came before generation began
                if isinstance(event, TokenEvent):
                    self.token.emit(chat_id, event.text)
                elif isinstance(event, ReplyStarted):
                    self.reply_started.emit(chat_id, event.reply_message_id)
                elif isinstance(event, Grounded):
                    self.grounded.emit(chat_id, event.reply_message_id, event.grounding)
                elif isinstance(event, SearchingDocuments):
                    self.searching.emit(chat_id)
                elif isinstance(event, DoneEvent):
                    self.reply_finished.emit(chat_id, event.stats, event.finish_reason)
                elif isinstance(event, AGENT_EVENTS):
                    self.agent_event.emit(chat_id, event)
        except EngineCrashed as exc:
            self.reply_failed.emit(chat_id, str(exc))
            self._model_crashed(str(exc))
        except GlassboxError as exc:
            self.reply_failed.emit(chat_id, str(exc))
        except Exception as exc:  # a bug must not leave the window waiting forever
            log.exception("reply failed")
            self.reply_failed.emit(chat_id, f"The reply failed unexpectedly: {exc}")

    def _model_crashed(self, reason: str) -> None:
        """The model in use took its engine down: start a bare engine, and let the user decide
        whether to load that model again (it may crash again: a damaged file, too little
        memory), rather than reloading it behind their back."""
        if self._engine is None or self._closing.is_set():
            return
        path = self._last_path or ""
        self._last_path = None
        self.engine_crashed.emit(reason)
        try:
            self._engine.reset()
        except Exception as exc:  # the next request starts it again
            log.warning("could not start a fresh engine process: %s", exc)
        self.model_crashed.emit(path, reason)

    def _restart(self, reason: str) -> None:
        """A fresh engine process with the last good model loaded again."""
        if self._engine is None or self._closing.is_set():
            return
        self.engine_crashed.emit(reason)
        if self._last_path:
            self._guard.begin(self._last_path)
        try:
            info = self._engine.restart()
        except GlassboxError as exc:
            self.model_failed.emit(str(exc))
            return
        finally:
            self._guard.end()
        if info is not None:
            self.model_loaded.emit(info)


class EngineHandle(QObject):
    """The GUI thread's side: owns the JobThread the worker lives on and queues its requests.

    Each request is one job, run in order; the engine child and the connections open on the
    thread at start and close there when it stops. `stop()` (the Stop button) reaches the
    running reply directly, not through the queue.
    """

    def __init__(self, db_path: Path, home: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = EngineWorker(db_path, home)
        self.jobs = JobThread("glassbox-engine", self, open=self.worker.start,
                              close=self.worker.close, interrupt=self.worker.stop_all,
                              stop_wait_ms=_STOP_WAIT_MS)
        self.jobs.move_here(self.worker)
        self._next_request = 0

    @property
    def worker_thread(self) -> QThread:
        return self.jobs.qthread

    def start(self) -> None:
        self.jobs.start()

    def load(self, path: str, loras: Sequence[tuple[str, float]] = ()) -> None:
        chosen = tuple(loras)
        self._post(lambda: self.worker.load_model(path, chosen))

    def set_lora_scales(self, scales: dict[str, float]) -> None:
        chosen = dict(scales)
        self._post(lambda: self.worker.set_lora_scales(chosen))

    def set_control_vector(self, path: str | None, strength: float = 1.0) -> None:
        self._post(lambda: self.worker.set_control_vector(path, strength))

    def send(self, chat_id: int, text: str) -> None:
        self.worker.clear_stop()
        self._post(lambda: self.worker.send(chat_id, text))

    def regenerate(self, chat_id: int) -> None:
        self.worker.clear_stop()
        self._post(lambda: self.worker.regenerate(chat_id))

    def edit_last(self, chat_id: int, text: str) -> None:
        self.worker.clear_stop()
        self._post(lambda: self.worker.edit_last(chat_id, text))

    def inspect(self, what: str, **kwargs: Any) -> int:
        """Queue a Learn-panel request; the answer comes on worker.inspected with this id."""
        self._next_request += 1
        request = self._next_request
        self._post(lambda: self.worker.inspect(request, what, kwargs))
        return request

    def stop(self) -> None:
        self.worker.stop()

    def attribute(self, request: Any, on_done: Callable[[Any], None],
                  on_error: Callable[[BaseException], None],
                  on_progress: Callable[..., None],
                  on_cancelled: Callable[[], None]) -> None:
        """Queue an attribution after whatever the engine is doing; `stop()` cancels it."""
        self.worker.clear_stop()
        self.jobs.call(lambda ctx: self.worker.attribute(request, ctx), on_done, on_error,
                       on_progress, on_cancelled)

    def shutdown(self) -> None:
        """Cancel any reply, close the engine child and end the thread."""
        self.jobs.stop()

    def _post(self, action: Callable[[], object]) -> None:
        self.jobs.call(lambda _ctx: action())
