"""A colour scale for a heatmap: a caption, the lowest value, the colours in order, the highest.

The bar is painted from a function of the palette and a position t in [0, 1], the same function
the heatmap shades with, so the legend cannot drift from the picture; the numbers are plain
labels (readable text, checked by the UI audit like any other).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QWidget

from ui.theme import mark_secondary

ColorAt = Callable[[QPalette, float], QColor]
_STOPS = 24


class _Bar(QWidget):
    def __init__(self, color_at: ColorAt, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.color_at = color_at
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(160, max(12, self.fontMetrics().height() - 2))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        gradient = QLinearGradient(rect.topLeft(), rect.topRight())
        palette = self.palette()
        for i in range(_STOPS + 1):
            t = i / _STOPS
            gradient.setColorAt(t, self.color_at(palette, t))
        painter.fillRect(rect, gradient)
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.drawRect(rect)


class ColorScaleView(QWidget):
    """`caption  low [colours] high`; set_range() changes the numbers shown at the ends."""

    def __init__(self, caption: str, color_at: ColorAt, low: str, high: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel(caption)
        mark_secondary(self.caption)
        self.low = QLabel(low)
        self.bar = _Bar(color_at)
        self.high = QLabel(high)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        row.addWidget(self.caption)
        row.addWidget(self.low)
        row.addWidget(self.bar)
        row.addWidget(self.high)
        row.addStretch(1)

    def set_range(self, low: str, high: str) -> None:
        self.low.setText(low)
        self.high.setText(high)

    def color_at(self, t: float) -> QColor:
        """The colour the bar shows at t in [0, 1] (tests compare it with the heatmap)."""
        return self.bar.color_at(self.palette(), t)
