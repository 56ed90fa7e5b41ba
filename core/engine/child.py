"""The engine child process: owns the model, answers requests from one client.

llama.cpp calls abort() on some malformed files; living in a child process means that takes
down only this process, and the client reports it as EngineCrashed.
"""

from __future__ import annotations

import logging
import signal
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from typing import Any

from core.background import generating
from core.engine.attribution_types import AttributionRequest, AttributionResult
from core.engine.completion_types import CompletionDone, CompletionRequest
from core.engine.introspect import Inspector
from core.engine.protocol import (
    ControlVectorRequest,
    ErrorReply,
    InspectRequest,
    LoadRequest,
    SteerRequest,
)
from core.engine.runner import ModelRunner
from core.engine.types import DoneEvent, GenerateRequest
from core.errors import GlassboxError, NoModelLoaded, SteeringError
from core.gguf.reader import read_header
from core.models.adapters import check_adapter

log = logging.getLogger(__name__)


def _cvec_args(request: ControlVectorRequest | None,
               ) -> tuple[str | None, float, tuple[int, int] | None] | None:
    if request is None:
        return None
    return request.path, request.strength, request.layers


class _Server:
    def __init__(self, conn: Connection, cancel: Event) -> None:
        self._conn = conn
        self._cancel = cancel
        self._runner: ModelRunner | None = None
        # Second models for side-by-side views: tokenizers load vocab-only (fast, no weights);
        # one full comparison model is kept for surprise, replaced when another is asked for.
        self._vocabs: dict[str, Inspector] = {}
        self._comparison: ModelRunner | None = None

    def _model(self) -> ModelRunner:
        if self._runner is None:
            raise NoModelLoaded("No model is loaded yet: choose one first.")
        return self._runner

    def _load(self, request: LoadRequest) -> None:
        # Check the new file and its adapters before unloading the current model, so a bad
        # pick keeps it.
        read_header(request.path)
        for adapter, _ in request.loras:
            check_adapter(adapter, request.path)
        previous = self._runner
        if previous is not None:
            previous.close()  # two models at once may not fit in memory
            self._runner = None
        try:
            self._runner = ModelRunner(request.path, request.n_ctx, request.n_gpu_layers,
                                       n_threads=request.n_threads,
                                       flash_attn=request.flash_attn, kv_type=request.kv_type,
                                       loras=request.loras,
                                       control_vector=_cvec_args(request.control_vector))
        except GlassboxError:
            if previous is not None:
                # llama.cpp refused a file whose header looked fine: bring back the model
                # the user had, so a bad pick never leaves them with none.
                info = previous.info
                self._runner = ModelRunner(info.path, info.n_ctx, loras=[
                    (lora.path, lora.scale) for lora in info.loras],
                    control_vector=info.control_vector)
            raise
        self._conn.send(("loaded", self._runner.info))

    def _generate(self, request: GenerateRequest) -> None:
        # Background work (indexing, parsing, quantizing) yields the CPU while the flag is up.
        # It comes down before the last event goes out, so a caller that has the reply (or its
        # error) in hand never sees the flag still raised by it.
        done: DoneEvent | None = None
        with generating():
            events = self._model().generate(request.messages, request.sampling,
                                            self._cancel.is_set)
            for event in events:
                if isinstance(event, DoneEvent):
                    done = event
                else:
                    self._conn.send(("token", event))
        if done is not None:
            self._conn.send(("done", done))

    def _complete(self, request: CompletionRequest) -> None:
        done: CompletionDone | None = None
        with generating():
            for event in self._model().complete(request, self._cancel.is_set):
                if isinstance(event, CompletionDone):
                    done = event
                else:
                    self._conn.send(("piece", event))
        if done is not None:
            self._conn.send(("completed", done))

    def _attribute(self, op: str, request: AttributionRequest) -> None:
        from core.engine import attribution

        with generating():
            if op == "attribution_estimate":
                self._conn.send(("estimated", attribution.estimate(
                    self._model(), request, self._cancel.is_set)))
                return
            for event in attribution.attribute(self._model(), request, self._cancel.is_set):
                self._conn.send(("attributed" if isinstance(event, AttributionResult)
                                 else "attribution_progress", event))

    def _vocab(self, path: str) -> Inspector:
        if path not in self._vocabs:
            read_header(path)
            self._vocabs[path] = Inspector.vocab_only(path)
        return self._vocabs[path]

    def _comparison_model(self, path: str) -> ModelRunner:
        if self._comparison is None or self._comparison.info.path != path:
            if self._comparison is not None:
                self._comparison.close()
                self._comparison = None
            self._comparison = ModelRunner(path, n_ctx=2048)
        return self._comparison

    def _inspect(self, request: InspectRequest) -> Any:
        if request.model_path and request.what == "tokens":
            return self._vocab(request.model_path).tokenize(request.text, **request.options)
        if request.what == "surprise":
            runner = (self._comparison_model(request.model_path) if request.model_path
                      else self._model())
            options = dict(request.options)
            context = options.pop("context", None)
            prefix = runner.render_prompt(context) if context else ""
            return runner.inspector.surprise(request.text, prefix=prefix, **options)
        if request.what == "continuations":
            options = dict(request.options)
            runner = self._model()
            context = options.pop("context", None)
            prefix = runner.render_prompt(context) if context else options.pop("prefix")
            return runner.inspector.continuations(prefix, **options)
        if request.what in ("attention", "lens", "anatomy", "histogram"):
            return self._internals(request)
        inspector = self._model().inspector
        if request.what == "tokens":
            return inspector.tokenize(request.text, **request.options)
        if request.what == "next":
            return inspector.next_token(request.tokens or request.text, **request.options)
        if request.what == "template":
            return self._model().render_prompt(**request.options)
        raise ValueError(f"unknown inspection {request.what!r}")

    def _internals(self, request: InspectRequest) -> Any:
        options = dict(request.options)
        if request.what in ("anatomy", "histogram"):  # the file alone: no model needed
            from core.models.anatomy import read_anatomy, weight_histogram

            path = request.model_path or self._model().info.path
            read_header(path)
            if request.what == "anatomy":
                return read_anatomy(path)
            return weight_histogram(path, request.text, **options)
        runner = (self._comparison_model(request.model_path) if request.model_path
                  else self._model())
        context = options.pop("context", None)
        prefix = runner.render_prompt(context) if context else ""
        internals = runner.inspector.internals
        view = internals.attention if request.what == "attention" else internals.lens
        return view(request.text, prefix=prefix, **options)

    def _steer(self, request: SteerRequest) -> None:
        from core.engine import steering

        def progress(done: int, total: int) -> None:
            self._conn.send(("steer_progress", (done, total)))

        runner = self._model()
        with generating():
            if request.what == "build":
                result: Any = steering.build_direction(
                    runner, request.pairs, request.method,  # type: ignore[arg-type]
                    request.pooling, progress, self._cancel.is_set)  # type: ignore[arg-type]
            else:
                if request.direction is None:
                    raise SteeringError("No direction to steer with: build one first.")
                result = steering.run_steering(
                    runner, request.direction, request.prompt, request.layers,
                    request.strengths, request.max_tokens, progress=progress,
                    cancelled=self._cancel.is_set)
        self._conn.send(("steered", result))

    def handle(self, op: str, payload: Any) -> bool:
        """Serve one request; False when the client asked the process to end."""
        if op == "shutdown":
            return False
        try:
            if op == "load":
                self._load(payload)
            elif op == "generate":
                self._generate(payload)
            elif op == "complete":
                self._complete(payload)
            elif op == "lora_scales":
                self._conn.send(("loaded", self._model().set_lora_scales(payload)))
            elif op == "control_vector":
                self._conn.send(("loaded", self._model().set_control_vector(
                    *(_cvec_args(payload) or (None,)))))
            elif op == "steer":
                self._steer(payload)
            elif op == "count_tokens":
                self._conn.send(("count", self._model().count_tokens(payload)))
            elif op in ("attribute", "attribution_estimate"):
                self._attribute(op, payload)
            elif op == "inspect":
                with generating():  # captures run the model as hard as a reply does
                    view = self._inspect(payload)
                self._conn.send(("inspected", view))
            else:
                raise ValueError(f"unknown request {op!r}")
        except Exception as exc:  # every failure becomes a reply; the process stays up
            log.debug("request %s failed", op, exc_info=True)
            self._conn.send(("error", ErrorReply.from_exception(exc)))
        return True


def serve(conn: Connection, cancel: Event) -> None:
    """Entry point of the child process."""
    # Ctrl+C in a terminal reaches the whole process group; the client decides what it
    # means (usually: cancel this reply), so the child must not die of it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    server = _Server(conn, cancel)
    try:
        while True:
            try:
                op, payload = conn.recv()
            except EOFError:  # the client went away
                return
            if not server.handle(op, payload):
                return
    finally:
        conn.close()
