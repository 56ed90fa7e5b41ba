"""Connects the Attribution panel to the engine: the estimate as a Learn request, the run as a
job on the engine's own thread (progress, Cancel), and for a grounded reply the passage that
drove each answer sentence. Nothing here computes: core.engine.attribution does, in the
engine child.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from core.api import ChatMessage
from core.engine.attribution_types import AttributionRequest, AttributionResult
from desktop.engine_worker import EngineHandle
from ui.learn.attribution_panel import AttributionPanel

if TYPE_CHECKING:
    from core.api import Grounding
    from desktop.learn_controller import LearnController

_LANE = "attribution_estimate"


def driver_lines(result: AttributionResult, grounding: Grounding) -> list[str]:
    """One line an answer sentence: the passage whose removal cost it the most."""
    from core.rag.passage_attribution import sentence_drivers

    lines = []
    for k, driver in enumerate(sentence_drivers(result), start=1):
        quote = driver.text if len(driver.text) <= 60 else driver.text[:57] + "…"
        if driver.number is None:
            lines.append(f"{k}. “{quote}” ← no passage made it more likely")
            continue
        source = grounding.source(driver.number)
        where = source.label if source is not None else ""
        lines.append(f"{k}. “{quote}” ← [{driver.number}] {where} "
                     f"({driver.drop:+.2f} nats with it)")
    return lines


class AttributionController(QObject):
    def __init__(self, engine: EngineHandle, panel: AttributionPanel, learn: LearnController,
                 show_error: Callable[[str], None], parent: QObject | None = None, *,
                 conversation: Callable[[], list[ChatMessage]] | None = None) -> None:
        """`conversation()`: the open chat as messages, for "Explain the last chat reply"."""
        super().__init__(parent)
        self._conversation = conversation
        self._grounding_source: Callable[[], Grounding | None] | None = None
        self._engine = engine
        self._panel = panel
        self._learn = learn
        self._show_error = show_error
        self._grounding: Grounding | None = None
        self._running = False
        learn.add_lane(_LANE, _LANE, panel.show_estimate, panel.set_failed)
        panel.estimate_requested.connect(self._on_estimate)
        panel.start_requested.connect(self._on_start)
        panel.cancel_requested.connect(self.cancel)
        panel.explain_last_requested.connect(self.explain_last)

    def set_grounding_source(self, source: Callable[[], Grounding | None]) -> None:
        """Where the last chat reply's grounding comes from (the Sources pane's)."""
        self._grounding_source = source

    def explain_last(self) -> None:
        """The open chat's last reply, read after its conversation (or its passages)."""
        conversation = self._conversation() if self._conversation is not None else []
        last = max((i for i, m in enumerate(conversation) if m.role == "assistant"),
                   default=None)
        if last is None or not conversation[last].content.strip():
            self._show_error("There is no reply in this chat to explain yet.")
            return
        grounding = self._grounding_source() if self._grounding_source is not None else None
        self.explain(conversation[last].content, conversation[:last], grounding)

    @property
    def running(self) -> bool:
        return self._running

    def explain(self, reply: str, context: Sequence[ChatMessage],
                grounding: Grounding | None = None) -> None:
        """Bring a chat reply here: read after its conversation, or after the grounded prompt
        it was written from (then by passage, with the passages' places in that prompt)."""
        from core.rag.passage_attribution import passage_spans

        self._grounding = grounding
        question = next((m.content for m in reversed(context) if m.role == "user"), "")
        if grounding is not None and grounding.sources:
            self._panel.set_request(grounding.query or question, reply,
                                    rendered=grounding.rendered,
                                    spans=passage_spans(grounding))
        else:
            self._panel.set_request(question, reply, messages=context)
        self._on_estimate(self._panel.request())

    def _on_estimate(self, request: AttributionRequest) -> None:
        self._panel.status.setText("Estimating…")
        self._learn.submit(_LANE, request=request)

    def _on_start(self, request: AttributionRequest) -> None:
        if self._running:
            return
        self._running = True
        self._panel.set_running(True)
        self._engine.attribute(request, self._on_done, self._on_error,
                               self._panel.show_progress, self._on_cancelled)

    def cancel(self) -> None:
        if self._running:
            self._engine.stop()  # reaches the engine child's cancel flag at once

    def _on_done(self, result: Any) -> None:
        self._running = False
        if not isinstance(result, AttributionResult):
            self._panel.set_failed("The attribution ended without a result.")
            return
        lines = (driver_lines(result, self._grounding)
                 if result.by == "passage" and self._grounding is not None else [])
        self._panel.show_result(result, lines)

    def _on_error(self, exc: BaseException) -> None:
        self._running = False
        self._panel.set_failed(str(exc))
        self._show_error(str(exc))

    def _on_cancelled(self) -> None:
        self._running = False
        self._panel.set_failed("Cancelled before any part was removed.")
