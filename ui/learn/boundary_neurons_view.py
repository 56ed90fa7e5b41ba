"""Each hidden neuron's activation over the plane, as small multiples: one row per layer.

Each map is scaled to its own largest magnitude (orange negative, white zero, blue positive),
so a neuron that only fires weakly still shows what region it responds to. A layer's maps
are coloured into one strip image (one conversion and one pixmap per layer per frame: the
GUI thread redraws them about ten times a second while the network trains).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from ui.learn.boundary_colors import diverging_lut, to_image
from ui.theme import mark_secondary

TILE = 40
_GAP = 3  # grid cells of white between two maps in a strip


class BoundaryNeuronsView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.hint = QLabel("Each hidden neuron's activation map appears here (a network with "
                           "no hidden layer has none).")
        self.hint.setWordWrap(True)
        mark_secondary(self.hint)
        outer.addWidget(self.hint)
        self._grid = QGridLayout()
        self._grid.setSpacing(4)
        outer.addLayout(self._grid)
        outer.addStretch(1)
        self._strips: list[QLabel] = []
        self._counts: list[int] = []
        self._lut: Any = None

    @property
    def shape(self) -> list[int]:
        """Neurons shown per layer."""
        return list(self._counts)

    def show_maps(self, maps: tuple[Any, ...]) -> None:
        """`maps[layer]` has shape (neurons, n, n)."""
        import numpy as np

        if self._lut is None:
            self._lut = diverging_lut()
        counts = [m.shape[0] for m in maps]
        if counts != self._counts:
            self._rebuild(counts)
        for strip, layer in zip(self._strips, maps, strict=True):
            k, n, _ = layer.shape
            # Each map over its own largest magnitude, into -1..1, side by side with gaps.
            top = np.abs(layer).reshape(k, -1).max(axis=1)
            scaled = layer / np.where(top > 0, top, 1.0)[:, None, None]
            padded = np.pad(scaled, ((0, 0), (0, 0), (0, _GAP)))
            row = padded.transpose(1, 0, 2).reshape(n, k * (n + _GAP))[:, : -_GAP]
            image = to_image(row, -1.0, 1.0, self._lut)
            width = k * TILE + (k - 1) * _GAP
            strip.setPixmap(QPixmap.fromImage(image).scaled(
                width, TILE, Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation))
        self.hint.setVisible(not maps)

    def _rebuild(self, counts: list[int]) -> None:
        while self._grid.count():
            item = self._grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self._strips = []
        self._counts = counts
        for layer, count in enumerate(counts):
            self._grid.addWidget(QLabel(f"layer {layer + 1}"), layer, 0)
            strip = QLabel()
            strip.setFixedSize(count * TILE + (count - 1) * _GAP, TILE)
            strip.setToolTip(f"hidden layer {layer + 1}: {count} neurons, left to right")
            self._grid.addWidget(strip, layer, 1, Qt.AlignmentFlag.AlignLeft)
            self._strips.append(strip)
        self._grid.setColumnStretch(2, 1)

    def clear(self) -> None:
        """Blank the maps; the strips stay until the network's shape changes (building
        them again would re-lay out, and repaint, the whole panel)."""
        for strip in self._strips:
            strip.clear()
