"""Every head of every layer as thumbnails in one image; a click picks a head."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QImage, QMouseEvent, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

CELL = 40  # thumbnail pixels in the composite image (painted 1:1)
GAP = 2
_MARGIN_LEFT = 30  # layer numbers
_MARGIN_TOP = 18  # head numbers
# In place of the grid before a capture (it used to be a bare "…").
EMPTY_TEXT = ("No capture yet. Press Capture or Try an example above: every head of every "
              "layer then appears here as a small heatmap; click one to enlarge it.")
DRAWING_TEXT = "Drawing every head of every layer…"  # after a capture, until the picture is made


class AttentionGridView(QWidget):
    """Layers as rows, heads as columns. The picture is made off the GUI thread (see
    ui/learn/heatmap_grid.py) and painted as one image, so the window never waits on it."""

    head_clicked = Signal(int, int)  # index into the capture's layers, head

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._layers: list[int] = []
        self._n_head = 0
        self._selected: tuple[int, int] | None = None
        self._head_names: list[str] = []
        self._drawing = False
        self.setMouseTracking(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def clear(self, drawing: bool = False) -> None:
        """No thumbnails; `drawing`: a capture arrived and its picture is being made."""
        self._image, self._layers, self._n_head, self._selected = None, [], 0, None
        self._drawing = drawing
        self.resize(self.sizeHint())
        self.update()

    def set_grid(self, image: QImage, layers: list[int], head_names: list[str]) -> None:
        """`image`: the composite for `layers` (rows) x `head_names` (columns)."""
        self._image, self._layers = image, layers
        self._head_names, self._n_head = head_names, len(head_names)
        self.resize(self.sizeHint())  # inside a scroll area that does not resize it
        self.update()

    def empty_text(self) -> str:
        """What the grid says instead of thumbnails ("" once it has them)."""
        if self._image is not None:
            return ""
        return DRAWING_TEXT if self._drawing else EMPTY_TEXT

    def has_grid(self) -> bool:
        return self._image is not None

    def select(self, layer_index: int, head: int) -> None:
        self._selected = (layer_index, head)
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        if self._image is None:
            return QSize(_MARGIN_LEFT + 9 * (CELL + GAP), _MARGIN_TOP + 4 * (CELL + GAP))
        return QSize(_MARGIN_LEFT + self._image.width(), _MARGIN_TOP + self._image.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return self.sizeHint()

    def cell_rect(self, layer_index: int, head: int) -> QRect:
        """A thumbnail's rectangle in widget pixels."""
        pitch = CELL + GAP
        return QRect(_MARGIN_LEFT + GAP + head * pitch, _MARGIN_TOP + GAP + layer_index * pitch,
                     CELL, CELL)

    def cell_at(self, pos: QPoint) -> tuple[int, int] | None:
        if self._image is None:
            return None
        pitch = CELL + GAP
        x, y = pos.x() - _MARGIN_LEFT - GAP, pos.y() - _MARGIN_TOP - GAP
        if x < 0 or y < 0:
            return None
        head, layer_index = x // pitch, y // pitch
        if head >= self._n_head or layer_index >= len(self._layers):
            return None
        return layer_index, head

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        painter.setPen(text)
        if self._image is None:
            painter.drawText(self.rect().adjusted(12, 8, -12, -8),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self.empty_text())
            return
        painter.drawImage(QPoint(_MARGIN_LEFT, _MARGIN_TOP), self._image)
        font = painter.font()
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.8))
        painter.setFont(font)
        pitch = CELL + GAP
        for head, name in enumerate(self._head_names):
            painter.drawText(QRect(_MARGIN_LEFT + GAP + head * pitch, 0, CELL, _MARGIN_TOP),
                             Qt.AlignmentFlag.AlignCenter, name)
        for row, layer in enumerate(self._layers):
            painter.drawText(QRect(0, _MARGIN_TOP + GAP + row * pitch, _MARGIN_LEFT - 4, CELL),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             f"L{layer}")
        if self._selected is not None:
            pen = QPen(palette.color(QPalette.ColorRole.Highlight), 3)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(self.cell_rect(*self._selected).adjusted(-2, -2, 1, 1))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        cell = self.cell_at(event.position().toPoint())
        if cell is None:
            QToolTip.hideText()
            return
        layer_index, head = cell
        QToolTip.showText(event.globalPosition().toPoint(),
                          f"layer {self._layers[layer_index]}, {self._head_names[head]}: "
                          "click to enlarge", self)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        cell = self.cell_at(event.position().toPoint())
        if cell is not None and event.button() == Qt.MouseButton.LeftButton:
            self.select(*cell)
            self.head_clicked.emit(*cell)
