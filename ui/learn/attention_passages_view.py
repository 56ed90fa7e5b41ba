"""How much of the answer's attention each retrieved passage received: one bar per passage."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from ui.learn import shading
from ui.learn.pieces import percent

ROW = 26
_LABEL = 260


class PassageBarsView(QWidget):
    """Rows of (label such as "[1] guide.md › Setup", share of attention in [0, 1])."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, float]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_rows(self, rows: list[tuple[str, float]]) -> None:
        self._rows = list(rows)
        self.updateGeometry()
        self.update()

    def rows(self) -> list[tuple[str, float]]:
        return list(self._rows)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(_LABEL + 240, max(1, len(self._rows)) * ROW + 4)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.Text)
        widest = max((share for _, share in self._rows), default=1.0) or 1.0
        bar_room = max(40, self.width() - _LABEL - 80)
        metrics = painter.fontMetrics()
        for i, (name, share) in enumerate(self._rows):
            y = 2 + i * ROW
            painter.setPen(text)
            painter.drawText(QRect(4, y, _LABEL - 12, ROW), Qt.AlignmentFlag.AlignVCenter,
                             metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, _LABEL - 12))
            width = int(bar_room * share / widest)
            painter.fillRect(QRect(_LABEL, y + 5, max(1, width), ROW - 10),
                             shading.confidence_color(palette, 0.4 + 0.6 * share / widest))
            painter.drawText(QRect(_LABEL + width + 6, y, 70, ROW),
                             Qt.AlignmentFlag.AlignVCenter, percent(share))
