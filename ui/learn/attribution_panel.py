"""Attribution: which parts of the prompt made the model give this reply (occlusion).

The panel collects the prompt, the reply and the granularity, shows what the run will cost
before it starts, then the prompt shaded by each unit's score: warm where removing the unit
made the reply less likely, cool where it made it more likely. The list beside it ranks the
units strongest first; for a grounded answer, a second list names the passage that drove each
answer sentence. The controller runs the model; this view computes nothing.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.api import ChatMessage
from core.engine.attribution_types import (
    GRANULARITIES,
    AttributionEstimate,
    AttributionRequest,
    AttributionResult,
    AttributionUnit,
    Granularity,
    LabeledSpan,
)
from ui.learn import shading
from ui.learn.pieces import piece_html
from ui.learn.token_text_view import TokenTextView
from ui.message_render import mix

_COOL = QColor("#3d8bfd")
_RANKED = 12  # units listed beside the text
LEGEND = ("Shade: how much less likely the reply became with this part removed (warm), or "
          "more likely (cool), in nats of log-probability. Hover a part for its score.")
EXAMPLE_PROMPT = "Paris is in France. Berlin is in Germany. The capital of France is"
EXAMPLE_REPLY = " Paris."


def unit_color(palette: QPalette, score: float, scale: float) -> QColor:
    """The shade of a unit: its score against the strongest one's (in the reply or sentence
    shown), warm for a part that helped the reply, cool for one that worked against it."""
    strength = max(0.0, min(1.0, abs(score) / scale)) if scale > 0 else 0.0
    amount = 0.06 + 0.8 * strength
    return shading.warm(palette, amount) if score > 0 else mix(shading.base(palette), _COOL,
                                                              amount)


class AttributionPanel(QWidget):
    """Prompt and reply in, the prompt shaded by what drove the reply out."""

    estimate_requested = Signal(object)  # AttributionRequest
    start_requested = Signal(object)  # AttributionRequest
    cancel_requested = Signal()
    explain_last_requested = Signal()  # the open chat's last reply

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prompt_edit = QPlainTextEdit()
        self.prompt_edit.setPlaceholderText("The prompt, read as a user message (Last chat "
                                            "reply brings a whole conversation here)")
        self.reply_edit = QPlainTextEdit()
        self.reply_edit.setPlaceholderText("The reply to explain")
        self.by_box = QComboBox()
        self.by_box.setAccessibleName("Granularity")
        for by in GRANULARITIES:
            self.by_box.addItem(f"by {by}", by)
        self.by_box.setCurrentIndex(GRANULARITIES.index("word"))
        self.estimate_button = QPushButton("Estimate")
        self.start_button = QPushButton("Start")
        self.cancel_button = QPushButton("Cancel")
        self.example_button = QPushButton("Try an example")
        self.last_reply_button = QPushButton("Last chat reply")
        self.last_reply_button.setToolTip("Explain the open chat's last reply (by passage "
                                          "when it was grounded in documents)")
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Attribution progress")
        self.status = QLabel("Write a prompt and its reply, then Estimate to see the cost.")
        self.status.setWordWrap(True)
        self.sentence_box = QComboBox()
        self.sentence_box.setAccessibleName("Reply sentence to explain")
        self.text = TokenTextView()
        self.ranked = QListWidget()
        self.ranked.setAccessibleName("Strongest parts")
        self.drivers = QListWidget()
        self.drivers.setAccessibleName("Passage behind each answer sentence")
        for listing in (self.ranked, self.drivers):
            listing.setWordWrap(True)  # a sentence and its passage's name, read whole
        self.legend = QLabel(LEGEND)
        self.legend.setWordWrap(True)

        inputs = QSplitter()
        inputs.addWidget(self.prompt_edit)
        inputs.addWidget(self.reply_edit)
        controls = QHBoxLayout()
        for widget in (self.by_box, self.estimate_button, self.start_button,
                       self.cancel_button, self.example_button, self.last_reply_button):
            controls.addWidget(widget)
        controls.addWidget(self.progress, 1)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(QLabel("Strongest first:"))
        side_layout.addWidget(self.ranked, 2)
        self.drivers_title = QLabel("Which passage drove each answer sentence:")
        side_layout.addWidget(self.drivers_title)
        side_layout.addWidget(self.drivers, 1)
        results = QSplitter()
        results.addWidget(self.text)
        results.addWidget(side)
        results.setStretchFactor(0, 3)
        results.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(inputs, 2)
        layout.addLayout(controls)
        layout.addWidget(self.status)
        layout.addWidget(self.sentence_box)
        layout.addWidget(results, 7)
        layout.addWidget(self.legend)

        self._messages: tuple[ChatMessage, ...] = ()
        self._spans: tuple[LabeledSpan, ...] = ()
        self._rendered = ""  # a grounded prompt as rendered (its passages' spans point in it)
        self._result: AttributionResult | None = None
        self._drivers: list[str] = []
        self.backgrounds: list[QColor] = []
        self.estimate_button.clicked.connect(lambda: self.estimate_requested.emit(
            self.request()))
        self.start_button.clicked.connect(lambda: self.start_requested.emit(self.request()))
        self.cancel_button.clicked.connect(self.cancel_requested.emit)
        self.example_button.clicked.connect(self.try_example)
        self.last_reply_button.clicked.connect(self.explain_last_requested.emit)
        self.sentence_box.currentIndexChanged.connect(self._render)
        self.prompt_edit.textChanged.connect(self._on_edited)
        self.reply_edit.textChanged.connect(self._on_edited)
        self.by_box.currentIndexChanged.connect(self._on_edited)
        self.set_running(False)
        self.start_button.setEnabled(False)
        self.sentence_box.hide()
        self.drivers_title.hide()
        self.drivers.hide()

    # -- input ------------------------------------------------------------------------------
    def granularity(self) -> Granularity:
        by: Granularity = self.by_box.currentData()
        return by

    def set_granularity(self, by: Granularity) -> None:
        self.by_box.setCurrentIndex(GRANULARITIES.index(by))

    def request(self) -> AttributionRequest:
        reply = self.reply_edit.toPlainText()
        if self._rendered:
            return AttributionRequest(prompt=self._rendered, reply=reply,
                                      by=self.granularity(), spans=self._spans)
        typed = self.prompt_edit.toPlainText()
        if not self._messages and not typed.strip():  # refused with a clear message
            return AttributionRequest(prompt="", reply=reply, by=self.granularity())
        messages = self._messages or (ChatMessage("user", typed),)
        return AttributionRequest(messages=messages, reply=reply, by=self.granularity())

    def set_request(self, prompt: str, reply: str,
                    messages: Sequence[ChatMessage] = (), rendered: str = "",
                    spans: Sequence[LabeledSpan] = ()) -> None:
        """A reply to explain: after `messages` (a conversation), or after `rendered` (a
        grounded prompt, whose passages are `spans`); `prompt` is what the box shows."""
        self.prompt_edit.blockSignals(True)
        self.prompt_edit.setPlainText(prompt)
        self.prompt_edit.blockSignals(False)
        self.reply_edit.setPlainText(reply)
        self._messages, self._rendered, self._spans = tuple(messages), rendered, tuple(spans)
        self.set_granularity("passage" if spans else "sentence" if messages else "word")
        self._on_edited(keep_context=True)

    def try_example(self) -> None:
        self.set_request(EXAMPLE_PROMPT, EXAMPLE_REPLY)

    def _on_edited(self, *_: object, keep_context: bool = False) -> None:
        if not keep_context and self.sender() is self.prompt_edit:
            # The user typed a prompt of their own: the conversation it came from no longer is.
            self._messages, self._rendered, self._spans = (), "", ()
        self.start_button.setEnabled(False)
        self.status.setText("Estimate first: it says how long the run will take.")

    # -- state from the controller ----------------------------------------------------------
    def set_running(self, running: bool) -> None:
        self.cancel_button.setEnabled(running)
        self.estimate_button.setEnabled(not running)
        self.by_box.setEnabled(not running)
        if running:
            self.start_button.setEnabled(False)
            self.progress.setRange(0, 0)  # busy until the first count arrives

    def show_estimate(self, estimate: AttributionEstimate) -> None:
        self.status.setText(f"{estimate.describe()}. Start when ready; Cancel stops it and "
                            "keeps what was measured.")
        self.start_button.setEnabled(True)

    def show_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.status.setText(f"Removing part {done:,} of {total:,}…")

    def set_failed(self, message: str) -> None:
        self.set_running(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status.setText(message)

    def show_result(self, result: AttributionResult, drivers: Sequence[str] = ()) -> None:
        """The shaded prompt; `drivers`: one line a reply sentence for a grounded answer."""
        self._result = result
        self._drivers = list(drivers)
        self.set_running(False)
        self.progress.setRange(0, max(result.estimate.scored_units, 1))
        self.progress.setValue(result.done)
        done = (f"Stopped after {result.done:,} of {result.estimate.scored_units:,} parts "
                "(grey: not measured)" if result.cancelled else
                f"{result.done:,} parts removed in {result.seconds:.1f} s")
        self.status.setText(f"{done}; {result.decoded_tokens:,} tokens decoded, the prompt "
                            f"before each cut reused. The reply's log-probability with the "
                            f"whole prompt: {result.baseline:.2f}.")
        self.sentence_box.blockSignals(True)
        self.sentence_box.clear()
        self.sentence_box.addItem("the whole reply", -1)
        for k, s in enumerate(result.sentences):
            self.sentence_box.addItem(
                f"sentence {k + 1}: {result.reply_text[s.start:s.end].strip()[:80]}", k)
        self.sentence_box.blockSignals(False)
        self.sentence_box.setVisible(len(result.sentences) > 1)
        self.drivers.clear()
        self.drivers.addItems(self._drivers)
        for widget in (self.drivers_title, self.drivers):
            widget.setVisible(bool(self._drivers))
        self._render()

    def result(self) -> AttributionResult | None:
        return self._result

    # -- drawing ----------------------------------------------------------------------------
    def _score(self, unit: AttributionUnit) -> float | None:
        k = self.sentence_box.currentData()
        if unit.score is None:
            return None
        return unit.sentence_scores[k] if isinstance(k, int) and k >= 0 else unit.score

    def _render(self, *_: object) -> None:
        result = self._result
        if result is None:
            return
        palette = self.palette()
        back = shading.base(palette)
        scores = [self._score(u) for u in result.units]
        scale = max((abs(s) for s in scores if s is not None), default=0.0)
        muted = shading.css(shading.muted(palette))
        spans, tips = [], []
        self.backgrounds = []
        for unit, score in zip(result.units, scores, strict=True):
            inner = piece_html(unit.text, breaks=True)
            if score is None:
                self.backgrounds.append(back)
                why = "not removed (template markup)" if not unit.scored else "not measured"
                spans.append(TokenTextView.anchor(
                    unit.index, f'<span style="color:{muted};">{inner}</span>'))
                tips.append(why)
                continue
            color = unit_color(palette, score, scale)
            self.backgrounds.append(color)
            style = (f"background-color:{shading.css(color)};"
                     f"color:{shading.css(shading.readable_on(color))};")
            spans.append(TokenTextView.anchor(unit.index, f'<span style="{style}">{inner}</span>'))
            label = f"passage [{unit.label}] · " if unit.label else ""
            tips.append(f"{label}{score:+.3f}: the reply is {score:+.3f} nats more likely "
                        f"with this part than without it")
        self.text.set_tokens(f'<div style="line-height:140%;">{"".join(spans)}</div>', tips)
        ranked = sorted((u for u, s in zip(result.units, scores, strict=True) if s is not None),
                        key=lambda u: self._score(u) or 0.0, reverse=True)
        self.ranked.clear()
        for unit in ranked[:_RANKED]:
            text = " ".join(unit.text.split())
            # A passage's text already opens with its number ("[1] notes.md ...").
            label = f"[{unit.label}] " if unit.label and not text.startswith(
                f"[{unit.label}]") else ""
            self.ranked.addItem(f"{self._score(unit):+.3f}  {label}{html.unescape(text)[:90]}")
