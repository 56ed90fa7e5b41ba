"""One training example as the model sees it: the chat template's tokens, the prompt masked
(grey: the loss ignores them) and the learned tokens marked (green with an underline)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ui.learn import shading
from ui.learn.pieces import label, piece_html
from ui.learn.token_text_view import TokenTextView
from ui.message_render import mix
from ui.theme import mark_secondary

if TYPE_CHECKING:
    from core.finetune.encode import Preview

_LEARNED = QColor("#1a9e4b")  # green: what training teaches


def learned_color(view: QWidget) -> QColor:
    return mix(shading.base(view.palette()), _LEARNED, 0.25)


class FinetunePreviewView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Select an example to see it through the model's chat template.")
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.tokens = TokenTextView()
        self.tokens.setPlaceholderText("The example's tokens appear here.")
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        mark_secondary(self.legend)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.tokens, 1)
        layout.addWidget(self.legend)
        self.pieces: list[str] = []
        self.trained: list[bool] = []
        self._shown: tuple[Preview, str] | None = None
        self._set_legend()

    def _set_legend(self) -> None:
        green = shading.css(learned_color(self))
        grey = shading.css(shading.muted(self.palette()))
        self.legend.setText(
            f'<span style="color:{grey};">grey tokens</span>: the prompt, read but not learned '
            f'(the loss ignores them) · <span style="background-color:{green};"><u>green, '
            "underlined</u></span>: the reply and the end-of-turn, the tokens training "
            "teaches. Hover a token for its number.")

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        # The colours are written into the HTML: drawn again when the theme changes, or the
        # light theme's grey would stay on the dark background.
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._set_legend()
            if self._shown is not None:
                self.show_preview(*self._shown)

    def show_preview(self, preview: Preview, where: str) -> None:
        """`where`: "training example" or "held-out example" (never trained on)."""
        self._shown = (preview, where)
        self.pieces, self.trained = list(preview.pieces), list(preview.trained)
        learned = sum(preview.trained)
        notes = []
        if preview.truncated:
            notes.append("cut to the maximum length")
        if preview.dropped:
            notes.append("<b>dropped</b>: its prompt alone fills the maximum length")
        extra = f" ({'; '.join(notes)})" if notes else ""
        self.title.setText(f"<b>{html.escape(where)}</b>: {preview.token_count} tokens, "
                           f"{learned} learned{extra}")
        grey = shading.css(shading.muted(self.palette()))
        green = shading.css(learned_color(self))
        spans, tips = [], []
        for i, (piece, is_learned) in enumerate(zip(preview.pieces, preview.trained,
                                                    strict=True)):
            inner = piece_html(piece, breaks=True)
            if is_learned:
                chip = f'<span style="background-color:{green};"><u>{inner}</u></span>'
            else:
                chip = f'<span style="color:{grey};">{inner}</span>'
            spans.append(TokenTextView.anchor(i, chip) + "\u200a")
            tips.append(f"token {i + 1}: <b>{html.escape(label(piece))}</b><br>"
                        + ("learned (has a label)" if is_learned else "prompt (masked)"))
        self.tokens.set_tokens(f'<div style="line-height:150%;">{"".join(spans)}</div>', tips)

    def clear(self) -> None:
        self._shown = None
        self.pieces, self.trained = [], []
        self.title.setText("Select an example to see it through the model's chat template.")
        self.tokens.set_tokens("", [])
