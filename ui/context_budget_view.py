"""A bar showing how a prompt spent the model's context window, part by part."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QHelpEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

# One hue per part, readable on light and dark palettes; "free" is drawn as the bar itself.
PART_COLORS = {
    "system": "#8e6bbf",
    "passages": "#3a8fd9",
    "history": "#6fa35a",
    "question": "#e0a23a",
    "template": "#9a9a9a",
    "reply": "#d9675f",
}
PART_LABELS = {
    "system": "System prompt", "passages": "Passages", "history": "Earlier turns",
    "question": "Question", "template": "Template markup", "reply": "Kept for the reply",
    "free": "Free",
}


class ContextBudgetView(QWidget):
    """Stacked horizontal bar of (part, tokens); hover a segment for its numbers."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._parts: list[tuple[str, int]] = []
        self._total = 0
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Context budget")

    def set_parts(self, parts: Sequence[tuple[str, int]], total: int) -> None:
        """`parts` in drawing order; `total` is the context window size in tokens."""
        self._parts = [(name, tokens) for name, tokens in parts if tokens > 0]
        self._total = max(total, 1)
        self.setToolTip(self.summary())
        self.update()

    def summary(self) -> str:
        """One line per part, for the tooltip and for tests."""
        return "\n".join(f"{PART_LABELS.get(name, name)}: {tokens:,} tokens "
                         f"({100 * tokens / self._total:.0f}%)" for name, tokens in self._parts)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(300, 22)

    def _segments(self) -> list[tuple[str, int, QRectF]]:
        width = max(self.width() - 2, 1)
        x = 1.0
        segments = []
        for name, tokens in self._parts:
            if name == "free":
                continue
            w = width * tokens / self._total
            segments.append((name, tokens, QRectF(x, 1, w, self.height() - 2)))
            x += w
        return segments

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        frame = QRectF(0.5, 0.5, self.width() - 1, self.height() - 1)
        painter.setPen(self.palette().mid().color())
        painter.setBrush(self.palette().base())
        painter.drawRoundedRect(frame, 4, 4)
        painter.setPen(Qt.PenStyle.NoPen)
        for name, _, rect in self._segments():
            painter.setBrush(QColor(PART_COLORS.get(name, "#777777")))
            painter.drawRect(rect)
        painter.end()

    def event(self, event: object) -> bool:
        if isinstance(event, QHelpEvent):
            for name, tokens, rect in self._segments():
                if rect.contains(QPointF(event.pos())):
                    QToolTip.showText(event.globalPos(), f"{PART_LABELS.get(name, name)}: "
                                      f"{tokens:,} tokens", self)
                    return True
        return super().event(event)  # type: ignore[arg-type]
