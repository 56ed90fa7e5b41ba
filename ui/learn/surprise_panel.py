"""Surprise: each token of a text shaded by how unlikely the model found it; perplexity."""

from __future__ import annotations

import html
import math

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QColor, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.engine.introspect_types import SurpriseView, TokenSurprise
from ui.empty_state_view import EmptyStateView
from ui.learn import shading
from ui.learn.pieces import label, percent, piece_html
from ui.learn.token_text_view import TokenTextView
from ui.theme import mark_secondary

_LEGEND = ("Shade: how surprised the model was, −log₂ p; strongest from "
           f"{shading.FULL_SURPRISE_BITS:.0f} bits (p ≤ 1/1024). Hover a token for the "
           "model's alternatives.")
# What the footer says about the start, after a measurement: it depends on whether the start
# was scored (a model that adds a start-of-text token, or a reply read after its chat).
UNSCORED_START = " The grey start has no prediction: nothing comes before it."
SCORED_START = (" Every token is scored, the first one too: the model read it after a "
                "start-of-text token or the conversation before it.")


EXAMPLE = ("The Eiffel Tower is in Paris. It was built for the 1889 World's Fair, and at "
           "first many Parisians found it ugly. Today it is loved by bananas.")
EMPTY_TEXT = ("Paste a text above and press Measure: each token is shaded by how surprised "
              "the model was to see it. Inspect reply in the chat brings a reply here.")


class SurpriseColumnView(QWidget):
    """One model's reading of the text: a header with its perplexity and the shaded tokens."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.header = QLabel()
        self.header.setWordWrap(True)
        self.tokens = TokenTextView()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.header)
        layout.addWidget(self.tokens, 1)
        self._view: SurpriseView | None = None
        self._name = ""
        self._prefix = ""
        self.backgrounds: list[QColor] = []  # per token, as last drawn

    def show_view(self, view: SurpriseView, model_name: str, prefix: str = "") -> None:
        """`prefix`: the text before the first measured token (it has no prediction)."""
        self._view, self._name, self._prefix = view, model_name, prefix
        self._render()

    @property
    def view(self) -> SurpriseView | None:
        return self._view

    def _render(self) -> None:
        view = self._view
        if view is None:
            return
        palette = self.palette()
        n = len(view.tokens)
        mean_bits = (sum(-t.logprob for t in view.tokens) / n / math.log(2)) if n else 0.0
        name = f"<b>{html.escape(self._name)}</b> · " if self._name else ""
        self.header.setText(
            f"{name}perplexity <b>{view.perplexity:.2f}</b> · {n} tokens measured · mean "
            f"surprise {mean_bits:.2f} bits<br><small>Perplexity {view.perplexity:.1f}: on "
            f"average as unsure as a choice among {view.perplexity:.1f} equally likely "
            "tokens.</small>")
        muted = shading.css(shading.muted(palette))
        spans = [f'<span style="color:{muted};">{piece_html(self._prefix, breaks=True)}</span>'
                 if self._prefix else ""]
        tips = []
        self.backgrounds = []
        for i, token in enumerate(view.tokens):
            prob = math.exp(token.logprob)
            back = shading.surprise_color(palette, prob)
            self.backgrounds.append(back)
            style = (f"background-color:{shading.css(back)};"
                     f"color:{shading.css(shading.readable_on(back))};")
            # A hair space between chips keeps neighbours apart when both are strongly shaded.
            spans.append(TokenTextView.anchor(
                i, f'<span style="{style}">{piece_html(token.piece, breaks=True)}</span>')
                + "\u200a")
            tips.append(_tooltip(token, prob))
        self.tokens.set_tokens(f'<div style="line-height:140%;">{"".join(spans)}</div>', tips)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._render()


class SurprisePanel(QWidget):
    """Paste a text, press Measure; the window answers show_view (and show_comparison)."""

    measure_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.input = QPlainTextEdit()
        self.input.setPlaceholderText("Paste a text, or pick a chat reply, to see how surprising "
                                      "each token is to the model…")
        self.measure_button = QPushButton("Measure")
        self.main = SurpriseColumnView()
        self.comparison = SurpriseColumnView()
        self.comparison.hide()
        self._model_name = ""
        self.legend = legend = QLabel(_LEGEND)
        legend.setWordWrap(True)
        mark_secondary(legend)  # quieter, still AA

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.input, 1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.measure_button)
        top_layout.addLayout(buttons)
        columns = QSplitter(Qt.Orientation.Horizontal)
        columns.addWidget(self.main)
        columns.addWidget(self.comparison)
        results = QWidget()
        results_layout = QVBoxLayout(results)
        results_layout.setContentsMargins(0, 0, 0, 0)
        self.empty = EmptyStateView(EMPTY_TEXT)
        self.empty.action_requested.connect(self.try_example)
        self.results = QStackedWidget()
        self.results.addWidget(self.empty)
        self.results.addWidget(columns)
        results_layout.addWidget(self.results, 1)
        results_layout.addWidget(legend)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(results)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self.measure_button.clicked.connect(self._on_measure)

    @property
    def perplexity_label(self) -> QLabel:
        return self.main.header

    def text(self) -> str:
        return self.input.toPlainText()

    def set_text(self, text: str) -> None:
        self.input.setPlainText(text)
        self.input.moveCursor(QTextCursor.MoveOperation.End)

    def set_model_name(self, name: str) -> None:
        self._model_name = name

    def show_view(self, view: SurpriseView, model_name: str | None = None) -> None:
        """The loaded model's reading of the text."""
        if model_name is not None:
            self._model_name = model_name
        prefix = self._prefix_for(view)
        self.results.setCurrentIndex(1)
        self.main.show_view(view, self._model_name, prefix)
        self.legend.setText(_LEGEND + (UNSCORED_START if prefix else SCORED_START))

    def show_comparison(self, view: SurpriseView, model_name: str) -> None:
        """A second model's reading of the same text, side by side (base against instruct)."""
        self.comparison.show_view(view, model_name, self._prefix_for(view))
        self.comparison.show()

    def clear_comparison(self) -> None:
        self.comparison.hide()

    def _prefix_for(self, view: SurpriseView) -> str:
        """The start of the text that no token covers: the first token, never predicted."""
        text, measured = self.text(), "".join(t.piece for t in view.tokens)
        return text[: len(text) - len(measured)] if measured and text.endswith(measured) else ""

    def try_example(self) -> None:
        """Measure the example (its last word is meant to surprise)."""
        self.set_text(EXAMPLE)
        self._on_measure()

    def set_failed(self, message: str) -> None:
        if self.main.view is None:
            self.empty.set_text(message)

    def _on_measure(self) -> None:
        text = self.text()
        if text.strip():
            if self.main.view is None:
                self.empty.set_text("Measuring…", button=False)
            self.measure_requested.emit(text)


def _tooltip(token: TokenSurprise, prob: float) -> str:
    bits = -token.logprob / math.log(2)
    lines = [f"<b>{html.escape(label(token.piece))}</b> · id {token.id}",
             f"p = {percent(prob)} · surprise {bits:.2f} bits", "expected instead:"]
    for alt in token.top:
        mark = "✓ " if alt.id == token.id else ""
        lines.append(f"&nbsp;&nbsp;{mark}{html.escape(label(alt.piece))} {percent(alt.prob)}")
    return "<br>".join(lines)
