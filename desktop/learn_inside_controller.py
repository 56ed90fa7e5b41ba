"""Connects the Attention, Logit lens and Anatomy panels to the engine worker.

Requests go through the Learn controller's lanes (one in flight, the newest waiting). What the
engine returns is plain data; the one costly picture, the grid of every head, is drawn by a
pool thread into an image so the window never stalls on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage, QPalette

from core.api import ChatMessage, TokenPiece
from core.engine.attention_plan import AttentionPlan, plan_for_text
from core.engine.capture_types import AttentionView, LensView
from core.gguf.anatomy_types import AnatomyView, ArchitectureSummary, WeightHistogram
from desktop.engine_worker import EngineHandle
from ui.learn.attention_grid_view import CELL, GAP
from ui.learn.learn_panel import LearnPanel

if TYPE_CHECKING:
    from core.api import Grounding

NO_REPLY = "This chat has no reply yet: send a message first, then look inside the reply."


class LaneHost(Protocol):
    def add_lane(self, name: str, what: str, show: Callable[[Any], None],
                 failed: Callable[[str], None] | None = None) -> None: ...

    def submit(self, name: str, tag: Any = None, **kwargs: Any) -> None: ...


@dataclass(frozen=True)
class _Capture:
    text: str
    context: list[ChatMessage] | None = None
    grounding: Grounding | None = None


class _GridSignals(QObject):
    done = Signal(int, object, object)  # job, QImage, passage rows or None


class _GridJob(QRunnable):
    """The head grid (and a grounded reply's passage shares) for one capture, off the GUI."""

    def __init__(self, job: int, view: AttentionView, background: tuple[int, int, int],
                 grounding: Grounding | None, signals: _GridSignals) -> None:
        super().__init__()
        self._job, self._view, self._background = job, view, background
        self._grounding, self._signals = grounding, signals

    def run(self) -> None:
        from core.rag.passage_attention import passage_shares
        from ui.learn.heatmap_grid import head_grid_image

        image = head_grid_image(self._view.attention, CELL, GAP, self._background)
        rows = (passage_shares(self._view, self._grounding)
                if self._grounding is not None else None)
        self._signals.done.emit(self._job, image, rows)


class _Warm(QRunnable):
    """Imports pyqtgraph (about a second) on the pool while the engine captures, so the first
    heatmap does not stall the window on an import."""

    def run(self) -> None:
        from ui.learn.heatmap_grid import colormap_lut

        colormap_lut()


class InsideController(QObject):
    def __init__(self, lanes: LaneHost, engine: EngineHandle, panel: LearnPanel,
                 show_error: Callable[[str], None],
                 conversation: Callable[[], list[ChatMessage]],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lanes = lanes
        self._panel = panel
        self._show_error = show_error
        self._conversation = conversation
        self._summary: ArchitectureSummary | None = None
        self._groundings: list[Grounding] = []  # the newest last; matched by their question
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._grid_signals = _GridSignals(self)
        self._grid_signals.done.connect(self._on_grid)
        self._grid_job = 0
        self._warmed = False
        attention, lens, anatomy = panel.attention, panel.lens, panel.anatomy
        lanes.add_lane("attention_size", "tokens", self._plan, attention.set_failed)
        lanes.add_lane("attention_shape", "anatomy", self._shape_known, attention.set_failed)
        lanes.add_lane("attention", "attention", self._show_attention, attention.set_failed)
        lanes.add_lane("lens", "lens", self._show_lens, lens.set_failed)
        lanes.add_lane("anatomy", "anatomy", self._show_anatomy, anatomy.set_failed)
        lanes.add_lane("histogram", "histogram", self._show_histogram, anatomy.set_failed)
        attention.capture_requested.connect(lambda text: self.capture_attention(_Capture(text)))
        attention.last_reply_requested.connect(self._on_attention_reply)
        lens.capture_requested.connect(lambda text: self.capture_lens(_Capture(text)))
        lens.last_reply_requested.connect(self._on_lens_reply)
        anatomy.refresh_requested.connect(self.read_anatomy)
        anatomy.tensor_chosen.connect(self._on_tensor)
        panel.currentChanged.connect(self._on_tab)
        engine.worker.model_loaded.connect(self._on_model_loaded)
        engine.worker.grounded.connect(self._on_grounded)

    # -- attention --------------------------------------------------------------------------
    def capture_attention(self, capture: _Capture) -> None:
        """Count the tokens first (cheap), to choose a capture that fits the memory budget."""
        self._warm()
        panel = self._panel.attention
        if self._summary is None:
            panel.set_busy("Reading the model's shape…")
            self._lanes.submit("attention_shape", tag=capture)
            return
        context = capture.context or []
        prefix = "".join(m.content + "\n" for m in context)
        panel.set_busy("Counting tokens…")
        self._lanes.submit("attention_size", tag=(capture, len(prefix)),
                           text=prefix + capture.text, special=True)

    def _shape_known(self, answer: tuple[AnatomyView, _Capture]) -> None:
        view, capture = answer
        self._summary = view.summary
        self._panel.anatomy.show_view(view)
        self.capture_attention(capture)

    def _plan(self, answer: tuple[list[TokenPiece], tuple[_Capture, int]]) -> None:
        pieces, (capture, prefix_chars) = answer
        summary = self._summary
        sized = plan_for_text(pieces, summary.n_layer if summary else None,
                              summary.n_head if summary else None,
                              n_context=len(capture.context or []), prefix_chars=prefix_chars)
        plan = sized.plan
        layers = len(plan.layers) if plan.layers is not None else sized.n_layer
        heads = "heads averaged" if plan.mean_heads else f"{sized.n_head} heads"
        self._panel.attention.set_busy(
            f"Capturing {layers} layers × {heads} over about {sized.n_tokens} tokens…")
        extra: dict[str, Any] = {"context": capture.context} if capture.context else {}
        self._lanes.submit("attention", tag=(capture, plan), text=capture.text,
                           **plan.kwargs(), **extra)

    def _show_attention(self, answer: tuple[AttentionView, tuple[_Capture, AttentionPlan]]) \
            -> None:
        view, (capture, plan) = answer
        notes = []
        if capture.context:
            notes.append("The last chat reply, read in its conversation.")
        if plan != AttentionPlan():
            notes.append("A long text: parts were left out to keep memory small "
                         "(pick a shorter text to see every row, head and layer).")
        panel = self._panel.attention
        panel.show_view(view, " ".join(notes))
        self._grid_job += 1
        back = panel.palette().color(QPalette.ColorRole.Window)
        self._pool.start(_GridJob(self._grid_job, view, (back.red(), back.green(), back.blue()),
                                  capture.grounding, self._grid_signals))

    def _on_grid(self, job: int, image: QImage, rows: list[tuple[str, float]] | None) -> None:
        if job != self._grid_job:
            return  # a newer capture is on show
        panel = self._panel.attention
        panel.show_grid(image)
        if rows is not None:
            panel.show_passages(rows, (
                "Share of the reply's attention that went to each passage, averaged over the "
                "reply's tokens, every layer and head. The rest went to the instructions, the "
                "question, the template and the reply itself (much of it to the first token)."))

    def _warm(self) -> None:
        if not self._warmed:
            self._warmed = True
            self._pool.start(_Warm())

    def wait_for_grid(self, msecs: int = 30_000) -> bool:
        """For tests and the benchmark: the pool thread has finished its picture."""
        return self._pool.waitForDone(msecs)

    def _on_attention_reply(self) -> None:
        capture = self._last_reply()
        if capture is None:
            self._panel.attention.set_failed(NO_REPLY)
            return
        self._panel.attention.prompt.set_text(capture.text)
        self.capture_attention(capture)

    # -- logit lens -------------------------------------------------------------------------
    def capture_lens(self, capture: _Capture) -> None:
        layers = self._summary.n_layer if self._summary and self._summary.n_layer else None
        what = f"{layers} layers" if layers else "every layer"
        self._panel.lens.set_busy(f"Reading {what} through the output matrix…")
        extra: dict[str, Any] = {"context": capture.context} if capture.context else {}
        self._lanes.submit("lens", text=capture.text, top=5, **extra)

    def _show_lens(self, view: LensView) -> None:
        self._panel.lens.show_view(view)

    def _on_lens_reply(self) -> None:
        capture = self._last_reply()
        if capture is None:
            self._panel.lens.set_failed(NO_REPLY)
            return
        self._panel.lens.prompt.set_text(capture.text)
        self.capture_lens(capture)

    # -- anatomy ----------------------------------------------------------------------------
    def read_anatomy(self) -> None:
        self._panel.anatomy.set_busy("Reading the model file…")
        self._lanes.submit("anatomy")

    def _show_anatomy(self, view: AnatomyView) -> None:
        self._summary = view.summary
        self._panel.anatomy.show_view(view)

    def _on_tensor(self, name: str) -> None:
        self._warm()
        self._lanes.submit("histogram", tensor=name, bins=80)

    def _show_histogram(self, histogram: WeightHistogram) -> None:
        self._panel.anatomy.show_histogram(histogram)

    def _on_tab(self, _index: int) -> None:
        if self._panel.currentWidget() is self._panel.anatomy and self._panel.anatomy.view is None:
            self.read_anatomy()

    # -- the chat ---------------------------------------------------------------------------
    def _last_reply(self) -> _Capture | None:
        """The open chat's last reply and what came before it. A reply grounded in documents
        is read after the exact prompt the model had, passages included."""
        conversation = self._conversation()
        last = max((i for i, m in enumerate(conversation) if m.role == "assistant"),
                   default=None)
        if last is None or not conversation[last].content.strip():
            return None
        context = conversation[:last]
        question = next((m.content for m in reversed(context) if m.role == "user"), None)
        grounding = next((g for g in reversed(self._groundings) if g.query == question
                          and g.sources), None)
        if grounding is not None:
            context = list(grounding.messages)
        return _Capture(conversation[last].content, context, grounding)

    def _on_grounded(self, _chat_id: int, _reply_id: int, grounding: Grounding) -> None:
        self._groundings = [*self._groundings[-7:], grounding]

    def _on_model_loaded(self, _info: object) -> None:
        self._summary = None  # another model, another shape
        for shown in (self._panel.attention, self._panel.lens):
            if shown.view is not None:
                shown.prompt.set_done("Another model is loaded: what is shown belongs to the "
                                      "previous one. Capture again to read the new model.")
        if self._panel.anatomy.view is not None or (
                self._panel.currentWidget() is self._panel.anatomy):
            self.read_anatomy()
