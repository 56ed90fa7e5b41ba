"""Horizontal bars: each candidate's probability under the model and after the samplers."""

from __future__ import annotations

import html

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QFontMetrics, QMouseEvent, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from core.engine.introspect_types import Candidate
from ui.learn import shading
from ui.learn.pieces import label, percent

ROW_HEIGHT = 24
_GAP = 8
_VALUE_WIDTH_TEXT = "100.0% → removed"


class ProbabilityBarsView(QWidget):
    """One row per candidate: its piece, a faint bar (model) and a solid bar (after sampling)."""

    candidate_clicked = Signal(int)  # token id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[Candidate, float | None]] = []
        self._hover = -1
        self.setMouseTracking(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def show_candidates(self, rows: list[tuple[Candidate, float | None]]) -> None:
        """(candidate with its model probability, probability after sampling or None: removed)."""
        self._rows = list(rows)
        self._hover = -1
        self.updateGeometry()
        self.update()

    def bar_count(self) -> int:
        return len(self._rows)

    def row_rect(self, index: int) -> QRect:
        return QRect(0, index * ROW_HEIGHT, self.width(), ROW_HEIGHT)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(420, max(1, len(self._rows)) * ROW_HEIGHT + 2)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(300, self.sizeHint().height())

    def _columns(self) -> tuple[int, int, int]:
        metrics = QFontMetrics(self.font())
        labels = [metrics.horizontalAdvance(label(c.piece)) for c, _ in self._rows] or [40]
        label_width = min(max(labels) + 2 * _GAP, self.width() // 3)
        value_width = metrics.horizontalAdvance(_VALUE_WIDTH_TEXT) + _GAP
        return label_width, max(40, self.width() - label_width - value_width - _GAP), value_width

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.Text)
        accent = palette.color(QPalette.ColorRole.Highlight)
        faint = shading.mix_alpha(accent, 95)
        removed = shading.muted(palette)
        label_width, bar_width, _ = self._columns()
        metrics = QFontMetrics(self.font())
        for i, (candidate, after) in enumerate(self._rows):
            row = self.row_rect(i)
            if i == self._hover:
                painter.fillRect(row, shading.mix_alpha(accent, 28))
            painter.setPen(text)
            painter.drawText(QRect(0, row.y(), label_width - _GAP, ROW_HEIGHT),
                             int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                             metrics.elidedText(label(candidate.piece), Qt.TextElideMode.ElideRight,
                                                label_width - _GAP))
            x = label_width
            painter.fillRect(QRect(x, row.y() + 3, round(bar_width * candidate.prob),
                                   ROW_HEIGHT - 6), faint)
            if after is not None:
                painter.fillRect(QRect(x, row.y() + 8, round(bar_width * after), ROW_HEIGHT - 16),
                                 accent)
            value = f"{percent(candidate.prob)} → " + (percent(after) if after is not None
                                                      else "removed")
            painter.setPen(text if after is not None else removed)
            painter.drawText(QRect(x + bar_width + _GAP, row.y(), self.width(), ROW_HEIGHT),
                             int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), value)
        painter.end()

    def _row_at(self, y: float) -> int:
        index = int(y // ROW_HEIGHT)
        return index if 0 <= index < len(self._rows) else -1

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        index = self._row_at(event.position().y())
        if index != self._hover:
            self._hover = index
            self.update()
        if index >= 0:
            candidate, after = self._rows[index]
            after_text = percent(after) if after is not None else "removed by the samplers"
            QToolTip.showText(event.globalPosition().toPoint(),
                              f"<b>{html.escape(label(candidate.piece))}</b> · id {candidate.id}"
                              f"<br>model: {percent(candidate.prob)} · after sampling: "
                              f"{after_text}<br>logit {candidate.logit:.2f}<br>click to append",
                              self)

    def leaveEvent(self, _event: object) -> None:  # noqa: N802 (Qt override)
        self._hover = -1
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        index = self._row_at(event.position().y())
        if index >= 0 and event.button() == Qt.MouseButton.LeftButton:
            self.candidate_clicked.emit(self._rows[index][0].id)

