"""The text as the two models read it: each token shaded by KL(original ‖ quantized) of its
prediction, and underlined where the two models' top choice differs (a top-1 flip)."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

from ui.learn import shading
from ui.learn.pieces import label, piece_html
from ui.learn.token_text_view import TokenTextView

if TYPE_CHECKING:
    from core.models.quant_lab_types import QuantComparison

FULL_KL_NATS = 2.0  # shading is strongest from here


def kl_strength(kl: float) -> float:
    """0 (the same prediction) .. 1 (KL of FULL_KL_NATS or more), on a square-root scale so
    that the many small divergences still show."""
    return max(0.0, min(1.0, math.sqrt(max(kl, 0.0) / FULL_KL_NATS)))


def kl_color(palette: QPalette, strength: float) -> QColor:
    """The shade for a kl_strength() of 0..1, as the strip draws it."""
    return shading.warm(palette, 0.06 + 0.84 * strength)


class QuantLabStripView(TokenTextView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText("The text appears here, each token shaded by how much the "
                                "quantized model's prediction of it differs from the "
                                "original's.")
        self.backgrounds: list[QColor] = []  # per predicted token, as last drawn

    def show_comparison(self, result: QuantComparison) -> None:
        palette = self.palette()
        muted = shading.css(shading.muted(palette))
        spans = [f'<span style="color:{muted};">{piece_html(result.pieces[0], breaks=True)}'
                 "</span>"]
        tips = []
        self.backgrounds = []
        for i, piece in enumerate(result.pieces[1:]):
            kl = float(result.kl[i])
            flipped = bool(result.flips[i])
            back = kl_color(palette, kl_strength(kl))
            self.backgrounds.append(back)
            style = (f"background-color:{shading.css(back)};"
                     f"color:{shading.css(shading.readable_on(back))};")
            inner = piece_html(piece, breaks=True)
            if flipped:
                inner = f"<u><b>{inner}</b></u>"
            spans.append(TokenTextView.anchor(i, f'<span style="{style}">{inner}</span>')
                         + "\u200a")
            tips.append(_tooltip(result, i, piece))
        self.set_tokens(f'<div style="line-height:150%;">{"".join(spans)}</div>', tips)


def _tooltip(result: QuantComparison, i: int, piece: str) -> str:
    lines = [f"<b>{html.escape(label(piece))}</b>",
             f"KL(original ‖ quantized) = {float(result.kl[i]):.4f} nats",
             f"original's top guess: {html.escape(label(result.top_original[i]))}",
             f"quantized's top guess: {html.escape(label(result.top_quantized[i]))}"]
    if result.flips[i]:
        lines.append("<b>top-1 flip</b>: the two models would pick different tokens here")
    return "<br>".join(lines)
