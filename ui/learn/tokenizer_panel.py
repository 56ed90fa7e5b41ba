"""Tokenizer: the text as the model's token chips, updated as the learner types."""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.api import TokenPiece
from ui.empty_state_view import EmptyStateView
from ui.learn import shading
from ui.learn.pieces import is_partial, label, piece_html, spaced_hex
from ui.learn.token_text_view import TokenTextView
from ui.theme import mark_secondary

DEBOUNCE_MS = 60
_LEGEND = ("· space   ↵ newline   → tab   ‹e6 97› bytes of a character split across tokens   "
           "<b>bold</b>: special token.  Hover a chip for its id and bytes.")
# A word split in pieces, a number, accents and an emoji: the cases a learner asks about.
EXAMPLE = "Tokenizers split unbelievable words, 3.14159, naïve cafés and 🙂 emoji."
EMPTY_TEXT = ("Type or paste a text above: the model's tokens appear here as chips, one "
              "colour change per token.")


class TokenizerPanel(QWidget):
    """Type text, see tokens. Emits `text_changed` debounced; the window answers `show_tokens`."""

    text_changed = Signal(str, bool)  # text, parse special tokens
    template_requested = Signal()  # show the current chat as the model reads it

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.input = QPlainTextEdit()
        self.input.setPlaceholderText("Type or paste text to see how the model splits it…")
        self.special_box = QCheckBox("Special tokens")
        self.special_box.setChecked(True)
        self.special_box.setToolTip("Read <|im_start|> and similar tags as single control tokens,"
                                    " as the chat template does; off: as plain text.")
        self.template_button = QPushButton("What the model sees")
        self.template_button.setToolTip("Load the current chat as the model reads it: the chat "
                                        "template applied, special tokens highlighted")
        self.template_button.clicked.connect(self.template_requested)
        self.counts_label = QLabel()
        self.counts_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.chips = TokenTextView()
        self.comparison_label = QLabel()
        self.comparison_chips = TokenTextView()
        self.comparison_label.hide()
        self.comparison_chips.hide()
        legend = QLabel(_LEGEND)
        legend.setWordWrap(True)
        mark_secondary(legend)  # quieter, still AA

        options = QHBoxLayout()
        options.addWidget(self.counts_label, 1)
        options.addWidget(self.template_button)
        options.addWidget(self.special_box)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addLayout(options)
        self.empty = EmptyStateView(EMPTY_TEXT)
        self.empty.action_requested.connect(lambda: self.set_text(EXAMPLE))
        self.chips_stack = QStackedWidget()
        self.chips_stack.addWidget(self.empty)
        self.chips_stack.addWidget(self.chips)
        lower_layout.addWidget(self.chips_stack, 1)
        lower_layout.addWidget(self.comparison_label)
        lower_layout.addWidget(self.comparison_chips, 1)
        lower_layout.addWidget(legend)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.input)
        splitter.addWidget(lower)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        # Typing only restarts this timer; the model is asked once the learner pauses.
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._emit_text)
        self.input.textChanged.connect(self._debounce.start)
        self.special_box.toggled.connect(self._on_special_toggled)
        self._pieces: list[TokenPiece] = []
        self._text = ""
        self._comparison: tuple[list[TokenPiece], str] | None = None
        self._render()

    # -- intents ----------------------------------------------------------------------------
    def text(self) -> str:
        return self.input.toPlainText()

    def special(self) -> bool:
        return self.special_box.isChecked()

    def set_text(self, text: str) -> None:
        self.input.setPlainText(text)
        self.input.moveCursor(QTextCursor.MoveOperation.End)

    def show_template(self, rendered: str) -> None:
        """Load a rendered chat: special tokens on, so its control tokens stand out."""
        self.special_box.setChecked(True)
        self.set_text(rendered)

    def _emit_text(self) -> None:
        self.text_changed.emit(self.text(), self.special())

    def _on_special_toggled(self, _checked: bool) -> None:
        self._debounce.stop()
        self._emit_text()

    # -- view -------------------------------------------------------------------------------
    def set_failed(self, message: str) -> None:
        """The model could not split the text: said where the chips would be."""
        self._pieces, self._text = [], ""
        self._render()
        self.empty.set_text(message)

    def show_tokens(self, pieces: list[TokenPiece], text: str) -> None:
        """Show the model's tokens for `text` (the text they were computed from)."""
        self._pieces, self._text = list(pieces), text
        self._render()

    def show_comparison(self, pieces: list[TokenPiece], model_name: str) -> None:
        """Another model's tokens for the same text, under the first model's."""
        self._comparison = (list(pieces), model_name)
        self._render()

    def clear_comparison(self) -> None:
        self._comparison = None
        self._render()

    def _render(self) -> None:
        n, chars = len(self._pieces), len(self._text)
        per = f"{chars / n:.2f}" if n else "–"
        self.counts_label.setText(
            f"<b>{n:,}</b> tokens · <b>{chars:,}</b> characters · "
            f"<b>{per}</b> characters per token")
        self.chips.set_tokens(*self._chips_html(self._pieces))
        self.chips_stack.setCurrentWidget(self.chips if self._pieces else self.empty)
        if not self._pieces:
            self.empty.set_text(EMPTY_TEXT)
        shown = self._comparison is not None
        self.comparison_label.setVisible(shown)
        self.comparison_chips.setVisible(shown)
        if self._comparison is not None:
            pieces, name = self._comparison
            self.comparison_label.setText(f"<b>{html.escape(name)}</b>: <b>{len(pieces):,}</b> "
                                          "tokens for the same text")
            self.comparison_chips.set_tokens(*self._chips_html(pieces))

    def _chips_html(self, pieces: list[TokenPiece]) -> tuple[str, list[str]]:
        first, second, special = shading.chip_colors(self.palette())
        spans, tips = [], []
        for i, piece in enumerate(pieces):
            back = special if piece.special else (first if i % 2 == 0 else second)
            weight = "font-weight:bold;" if piece.special else ""
            inner = piece_html(piece.text, piece.bytes_hex, breaks=True)
            style = (f"background-color:{shading.css(back)};"
                     f"color:{shading.css(shading.readable_on(back))};{weight}")
            spans.append(TokenTextView.anchor(i, f'<span style="{style}">{inner}</span>'))
            tips.append(_tooltip(i, piece))
        return f'<div style="line-height:140%;">{"".join(spans)}</div>', tips

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._render()


def _tooltip(index: int, piece: TokenPiece) -> str:
    kind = " · special (control) token" if piece.special else ""
    partial = ("<br>part of a UTF-8 character: the bytes alone are no text"
               if is_partial(piece.text) else "")
    return (f"<b>{html.escape(label(piece.text, piece.bytes_hex))}</b><br>token #{index + 1} · id "
            f"{piece.id}{kind}<br>bytes: <tt>{spaced_hex(piece.bytes_hex)}</tt>{partial}")
