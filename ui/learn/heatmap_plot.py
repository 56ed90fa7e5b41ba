"""pyqtgraph pieces of a token heatmap: axes labelled with token pieces, one image.

Imported lazily (by HeatmapView on first use): pyqtgraph loads numpy, which stays off the
window's start path.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Signal
from PySide6.QtGui import QFont, QFontMetrics, QPalette

from ui.learn.heatmap_grid import colormap_lut


class TokenAxis(pg.AxisItem):  # type: ignore[misc]
    """Ticks at token centres labelled with pieces: as many as fit without overlapping, so
    zooming in (mouse wheel) shows every token."""

    def __init__(self, orientation: str, staggered: bool = False) -> None:
        super().__init__(orientation)
        self._labels: list[str] = []
        self._room_px = 16.0  # the space one label needs along the axis
        # The top axis labels the tokens the bottom one skips when pieces are too wide for
        # every column: between the two, every token keeps its label.
        self._staggered = staggered

    def set_labels(self, labels: list[str]) -> None:
        self._labels = labels
        metrics = QFontMetrics(self.style.get("tickFont") or QFont())
        widest = max((metrics.horizontalAdvance(t) for t in labels), default=0)
        if self.orientation in ("top", "bottom"):
            self._room_px = widest + 8.0
        else:
            self._room_px = metrics.height() + 2.0
            self.setWidth(widest + 16)  # a label wider than the axis would be dropped
        self.picture = None
        self.update()

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[Any]:  # noqa: N802,N803
        n = len(self._labels)
        minVal, maxVal = sorted((minVal, maxVal))  # an inverted axis gives them reversed
        if n == 0 or size <= 0 or maxVal <= minVal:
            return []
        step = max(1, math.ceil(self._room_px * (maxVal - minVal) / size))
        if self._staggered and step == 1:
            return []  # the other axis labels every token already
        first = max(0, math.floor(minVal))
        phase = step // 2 if self._staggered else 0
        first += (phase - first) % step  # keep ticks on the same tokens while panning
        last = min(n - 1, math.ceil(maxVal))
        return [(step, [i + 0.5 for i in range(first, last + 1, step)])]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        n = len(self._labels)
        return [self._labels[int(v)] if 0 <= int(v) < n else "" for v in values]


class HeatmapPlot(pg.PlotWidget):  # type: ignore[misc]
    """A rows x columns matrix of values in [0, 1] as an image; rows read top to bottom."""

    hovered = Signal(int, int)  # row, column under the mouse; -1, -1 outside the matrix

    def __init__(self) -> None:
        self.left_axis = TokenAxis("left")
        self.bottom_axis = TokenAxis("bottom")
        self.top_axis = TokenAxis("top", staggered=True)
        super().__init__(axisItems={"left": self.left_axis, "bottom": self.bottom_axis,
                                    "top": self.top_axis},
                         enableMenu=False)  # made and then dropped, menus cost a quarter
        self.getPlotItem().showAxis("top")
        self.apply_palette(self.palette())
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(colormap_lut())
        self.addItem(self.image)
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.invertY(True)
        self._shape = (0, 0)
        self.scene().sigMouseMoved.connect(self._on_moved)

    def apply_palette(self, palette: QPalette) -> None:
        """Background and axis text from the window's palette (pyqtgraph defaults to black)."""
        self.setBackground(palette.color(QPalette.ColorRole.Window))
        text = palette.color(QPalette.ColorRole.WindowText)
        for axis in (self.left_axis, self.bottom_axis, self.top_axis):
            axis.setPen(text)
            axis.setTextPen(text)

    def show_matrix(self, shown: np.ndarray, rows: list[str], columns: list[str]) -> None:
        """`shown`: values in [0, 1] as they should be coloured (already scaled)."""
        n_rows, n_cols = shown.shape
        self._shape = (n_rows, n_cols)
        self.image.setImage(shown, levels=(0.0, 1.0), autoLevels=False)
        self.image.setRect(QRectF(0, 0, n_cols, n_rows))
        self.left_axis.set_labels(rows)
        self.bottom_axis.set_labels(columns)
        self.top_axis.set_labels(columns)
        box = self.getPlotItem().getViewBox()
        box.setLimits(xMin=0, xMax=max(n_cols, 1), yMin=0, yMax=max(n_rows, 1))
        box.setRange(xRange=(0, n_cols), yRange=(0, n_rows), padding=0)

    def cell_center(self, row: int, column: int) -> QPointF:
        """Where a cell's centre is in widget pixels (for tests and tooltips)."""
        box = self.getPlotItem().getViewBox()
        scene = box.mapViewToScene(QPointF(column + 0.5, row + 0.5))
        return QPointF(self.mapFromScene(scene))

    def _on_moved(self, scene_pos: QPointF) -> None:
        point = self.getPlotItem().getViewBox().mapSceneToView(scene_pos)
        row, col = math.floor(point.y()), math.floor(point.x())
        inside = 0 <= row < self._shape[0] and 0 <= col < self._shape[1]
        self.hovered.emit(row if inside else -1, col if inside else -1)
