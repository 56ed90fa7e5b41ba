"""The held-out example read by the base model and by base + adapter: each token shaded by
how much less (green) or more (orange) surprising the adapter made it. Click a token to see
both models' next-token guesses there."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

from ui.learn import shading
from ui.learn.pieces import label, piece_html
from ui.learn.token_text_view import TokenTextView
from ui.message_render import mix

if TYPE_CHECKING:
    from core.finetune.effect import AdapterEffect

FULL_CHANGE_BITS = 4.0  # shading is strongest from here (16 times more or less likely)
_BETTER = QColor("#1a9e4b")  # green: the adapter expected the token more
_WORSE = QColor("#ff6a1a")  # the warm surprise colour: it expected it less


def change_color(palette: QPalette, t: float) -> QColor:
    """t in [0, 1] over [-FULL_CHANGE_BITS, +FULL_CHANGE_BITS] bits taken away: 0 is orange
    (more surprising with the adapter), 0.5 the plain background, 1 green."""
    amount = min(1.0, abs(t - 0.5) * 2) * 0.85
    return mix(shading.base(palette), _BETTER if t >= 0.5 else _WORSE, amount)


def change_t(bits_taken: float) -> float:
    return 0.5 + max(-1.0, min(1.0, bits_taken / FULL_CHANGE_BITS)) / 2


class FinetuneEffectStripView(TokenTextView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText("After training: a held-out example, each token shaded by how "
                                "much more (green) or less (orange) expected the adapter made "
                                "it.")
        self.changes: list[float] = []  # bits taken away per predicted token, as drawn
        self.selected: int | None = None

    def show_effect(self, effect: AdapterEffect, selected: int | None = None) -> None:
        palette = self.palette()
        muted = shading.css(shading.muted(palette))
        spans = [f'<span style="color:{muted};">{piece_html(effect.pieces[0], breaks=True)}'
                 "</span>"]
        tips = []
        change = effect.surprise_change
        self.changes = [float(v) for v in change]
        self.selected = selected
        for i, piece in enumerate(effect.pieces[1:]):
            back = change_color(palette, change_t(self.changes[i]))
            style = (f"background-color:{shading.css(back)};"
                     f"color:{shading.css(shading.readable_on(back))};")
            inner = piece_html(piece, breaks=True)
            if i == selected:
                style += "border:1px solid;font-weight:bold;"
                inner = f"<u>{inner}</u>"
            spans.append(TokenTextView.anchor(i, f'<span style="{style}">{inner}</span>')
                         + "\u200a")
            tips.append(f"<b>{html.escape(label(piece))}</b><br>"
                        f"surprise: {float(effect.surprise_base[i]):.2f} bits without the "
                        f"adapter, {float(effect.surprise_adapter[i]):.2f} bits with it<br>"
                        "click to see both models' guesses here")
        self.set_tokens(f'<div style="line-height:150%;">{"".join(spans)}</div>', tips)
