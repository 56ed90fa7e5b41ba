"""Attention as lines: the tokens twice, in two columns, and a line from the chosen token on
the left to every token it attends to on the right, as opaque as the weight."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ui.learn import shading
from ui.learn.heatmap_view import short
from ui.learn.pieces import label, percent

if TYPE_CHECKING:
    import numpy as np

ROW = 20
_COLUMN = 110  # width of a token column
_TOP = 24  # room for the column titles
_MIN_SHOWN = 0.005  # lighter lines are invisible anyway: skip them


class AttentionLinesView(QWidget):
    """Hover or click a token on the left (a query) to see where its attention goes."""

    query_selected = Signal(int)  # token index

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pieces: list[str] = []
        self._weights: np.ndarray | None = None  # [query][key], a view into the capture
        self._query_start = 0
        self._selected = -1
        self._pinned = False
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_weights(self, pieces: list[str], weights: np.ndarray, query_start: int) -> None:
        """`weights[q][k]`: how much token `query_start + q` attends to token `k`."""
        self._pieces, self._weights, self._query_start = pieces, weights, query_start
        n_queries = weights.shape[0]
        if not query_start <= self._selected < query_start + n_queries:
            self._selected, self._pinned = query_start + n_queries - 1, False
        self.updateGeometry()
        self.update()
        self.query_selected.emit(self._selected)

    @property
    def selected(self) -> int:
        return self._selected

    def select(self, token: int, pin: bool = True) -> None:
        if self._weights is None or not (
                self._query_start <= token < self._query_start + self._weights.shape[0]):
            return
        self._selected, self._pinned = token, pin
        self.update()
        self.query_selected.emit(token)

    def line_weights(self) -> list[tuple[int, float]]:
        """(key token, weight) of every line drawn from the selected token, as shown."""
        if self._weights is None or self._selected < 0:
            return []
        row = self._weights[self._selected - self._query_start]
        return [(k, float(w)) for k, w in enumerate(row[: self._selected + 1]) if w >= _MIN_SHOWN]

    def row_rect(self, token: int, left: bool) -> QRect:
        x = 8 if left else self.width() - 8 - _COLUMN
        return QRect(x, _TOP + token * ROW, _COLUMN, ROW)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(3 * _COLUMN + 40, _TOP + max(1, len(self._pieces)) * ROW + 8)

    def _token_at(self, y: float, x: float) -> int:
        index = int((y - _TOP) // ROW)
        in_left = 8 <= x <= 8 + _COLUMN
        return index if in_left and 0 <= index < len(self._pieces) else -1

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.Text)
        painter.setPen(shading.muted(palette))
        painter.drawText(self.row_rect(0, True).translated(0, -_TOP + 4), 0, "from (query)")
        painter.drawText(self.row_rect(0, False).translated(0, -_TOP + 4), 0, "to (key)")
        lines = self.line_weights()
        strongest = max((w for _, w in lines), default=1.0)
        start = QPointF(8 + _COLUMN + 4, 0)
        end_x = self.width() - 8 - _COLUMN - 4
        for key, weight in lines:
            # Relative to the strongest line, on a square-root scale: attention spread over
            # many tokens (each a few %) drew every line at 10% opacity, nearly invisible.
            share = (weight / strongest) ** 0.5 if strongest > 0 else 0.0
            color = QColor(palette.color(QPalette.ColorRole.Highlight))
            color.setAlphaF(0.3 + 0.7 * share)
            painter.setPen(QPen(color, 1.5 + 3.5 * share))
            y0 = _TOP + self._selected * ROW + ROW / 2
            painter.drawLine(QPointF(start.x(), y0), QPointF(end_x, _TOP + key * ROW + ROW / 2))
        weights = dict(lines)
        for index, piece in enumerate(self._pieces):
            for left in (True, False):
                rect = self.row_rect(index, left)
                weight = weights.get(index, 0.0) if not left else 0.0
                if left and index == self._selected:
                    painter.fillRect(rect, palette.color(QPalette.ColorRole.Highlight))
                    painter.setPen(palette.color(QPalette.ColorRole.HighlightedText))
                elif weight > 0:
                    painter.fillRect(rect, shading.confidence_color(palette, weight))
                    painter.setPen(text)
                else:
                    painter.setPen(text if not left or index >= self._query_start
                                   else shading.muted(palette))
                align = Qt.AlignmentFlag.AlignVCenter | (
                    Qt.AlignmentFlag.AlignRight if left else Qt.AlignmentFlag.AlignLeft)
                painter.drawText(rect.adjusted(4, 0, -4, 0), align, short(piece))
        if self._selected >= 0 and lines:
            best = max(lines, key=lambda kw: kw[1])
            painter.setPen(text)
            painter.drawText(QRect(8 + _COLUMN + 8, 4, end_x - _COLUMN - 16, _TOP - 6),
                             Qt.AlignmentFlag.AlignCenter,
                             f"{label(self._pieces[self._selected])} → most to "
                             f"{label(self._pieces[best[0]])} ({percent(best[1])})")

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if self._pinned:
            return
        token = self._token_at(event.position().y(), event.position().x())
        if token >= 0 and token != self._selected:
            self.select(token, pin=False)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        token = self._token_at(event.position().y(), event.position().x())
        if token >= 0:
            # A click pins the choice (hovering no longer moves it); a second click frees it.
            pin = not (self._pinned and token == self._selected)
            self.select(token, pin=pin)
