"""The decision boundary: the network's P(blue) over the plane as an image, the points on top.

Training points are filled circles, test points triangles. A click in the plot reports where
(data coordinates), for the user's own points.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from ui.learn.boundary_colors import CLASS_COLORS, diverging_lut
from ui.learn.embedding_maps_plot import LazyPlotView

_EMPTY_BOUNDS = (-1.5, 1.5, -1.5, 1.5)


class BoundaryPlotView(LazyPlotView):
    point_clicked = Signal(float, float)  # where the user clicked, in data coordinates

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("The points and the network's boundary appear here.", parent)
        self._image: Any = None
        self._line: Any = None
        self._train: Any = None
        self._test: Any = None
        self.bounds = _EMPTY_BOUNDS
        self.images_shown = 0  # how many boundaries were drawn (tests, the redraw budget)
        self.setMinimumSize(320, 300)

    def _items(self) -> tuple[Any, Any, Any]:
        if self._image is None:
            import pyqtgraph as pg

            plot = self.plot()
            plot.setAspectLocked(True)
            plot.setMouseEnabled(x=False, y=False)  # a click adds a point; no panning
            plot.hideButtons()
            # Positions on this plane mean nothing in themselves, and axes would be repainted
            # with every boundary frame: leave them out.
            plot.hideAxis("left")
            plot.hideAxis("bottom")
            self._image = pg.ImageItem(axisOrder="row-major")
            self._image.setLookupTable(diverging_lut())
            self._image.setLevels((0.0, 1.0))
            plot.addItem(self._image)
            # The boundary itself, where P(blue) = 0.5 (traced by the core): drawn, so it
            # reads as a line even while the network is unsure and both sides are pale.
            self._line = pg.PlotDataItem(pen=pg.mkPen("#202020", width=2), connect="pairs")
            plot.addItem(self._line)
            self._train = pg.ScatterPlotItem(size=8, pen=pg.mkPen("w", width=1))
            self._test = pg.ScatterPlotItem(size=10, symbol="t1", pen=pg.mkPen("k", width=1))
            plot.addItem(self._train)
            plot.addItem(self._test)
            plot.scene().sigMouseClicked.connect(self._on_click)
        return self._image, self._train, self._test

    def show_points(self, train_x: Any, train_y: Any, test_x: Any, test_y: Any,
                    bounds: tuple[float, float, float, float]) -> None:
        """Points as (n x 2) arrays with their classes (0 or 1); `bounds` frames the plot."""
        image, train, test = self._items()
        self.bounds = bounds
        train.setData(pos=train_x, brush=[QColor(CLASS_COLORS[int(c)]) for c in train_y])
        test.setData(pos=test_x, brush=[QColor(CLASS_COLORS[int(c)]) for c in test_y])
        image.clear()
        self._line.setData([], [])
        self.fit(0.02, bounds)

    def show_empty(self, points: list[tuple[float, float, int]]) -> None:
        """The user's points before they make a dataset (fewer than two of a class)."""
        _, train, test = self._items()
        self._image.clear()
        self._line.setData([], [])
        self.bounds = _EMPTY_BOUNDS
        train.setData(pos=[(x, y) for x, y, _ in points],
                      brush=[QColor(CLASS_COLORS[c]) for _, _, c in points])
        test.setData(pos=[])
        self.fit(0.02, self.bounds)

    def show_probabilities(self, probabilities: Any, boundary: Any) -> None:
        """P(class 1) on the n x n grid over `bounds` (row 0 at the bottom), and the
        boundary line as (m, 2, 2) segments."""
        image, _, _ = self._items()
        x0, x1, y0, y1 = self.bounds
        image.setImage(probabilities, autoLevels=False, levels=(0.0, 1.0))
        image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        points = boundary.reshape(-1, 2)
        self._line.setData(points[:, 0], points[:, 1])
        self.images_shown += 1

    def _on_click(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._plot is None:
            return
        box = self._plot.getPlotItem().getViewBox()
        if not box.sceneBoundingRect().contains(event.scenePos()):
            return
        point = box.mapSceneToView(event.scenePos())
        self.point_clicked.emit(float(point.x()), float(point.y()))
