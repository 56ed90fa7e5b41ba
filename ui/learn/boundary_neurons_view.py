"""Each hidden neuron's activation over the plane, as small multiples: one row per layer.

Each map is scaled to its own largest magnitude (orange negative, white zero, blue positive),
so a neuron that only fires weakly still shows what region it responds to.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from ui.learn.boundary_colors import diverging_lut, to_image
from ui.theme import mark_secondary

TILE = 40


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
        self._grid.setSpacing(3)
        outer.addLayout(self._grid)
        outer.addStretch(1)
        self._tiles: list[list[QLabel]] = []
        self._lut: Any = None

    @property
    def shape(self) -> list[int]:
        """Neurons shown per layer."""
        return [len(row) for row in self._tiles]

    def show_maps(self, maps: tuple[Any, ...]) -> None:
        """`maps[layer]` has shape (neurons, n, n)."""
        if self._lut is None:
            self._lut = diverging_lut()
        if [m.shape[0] for m in maps] != self.shape:
            self._rebuild([m.shape[0] for m in maps])
        for row, layer in zip(self._tiles, maps, strict=True):
            for tile, values in zip(row, layer, strict=True):
                top = float(abs(values).max()) or 1.0
                image = to_image(values, -top, top, self._lut)
                tile.setPixmap(QPixmap.fromImage(image).scaled(
                    TILE, TILE, Qt.AspectRatioMode.IgnoreAspectRatio,
                    Qt.TransformationMode.SmoothTransformation))
        self.hint.setVisible(not maps)

    def _rebuild(self, counts: list[int]) -> None:
        while self._grid.count():
            item = self._grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self._tiles = []
        for layer, count in enumerate(counts):
            name = QLabel(f"layer {layer + 1}")
            self._grid.addWidget(name, layer, 0)
            row = []
            for i in range(count):
                tile = QLabel()
                tile.setFixedSize(TILE, TILE)
                tile.setToolTip(f"hidden layer {layer + 1}, neuron {i + 1}")
                self._grid.addWidget(tile, layer, i + 1)
                row.append(tile)
            self._tiles.append(row)

    def clear(self) -> None:
        self._rebuild([])
        self.hint.setVisible(True)
