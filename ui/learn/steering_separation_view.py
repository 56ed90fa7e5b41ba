"""How well each layer's direction separates the pairs: one bar per layer, the steered range
marked. Bars are the held-out pair accuracy (0.5 is chance); with one pair there is no score
and the view says so instead of drawing bars that would mean nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QWidget

from ui.learn.embedding_maps_plot import HIGHLIGHT, LazyPlotView, category_color

if TYPE_CHECKING:
    from core.engine.steering_types import SteeringDirection


class SteeringSeparationView(LazyPlotView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Build a direction to see which layers tell the two sides apart.",
                         parent)
        self._bars: Any = None
        self._range: Any = None
        self.accuracies: list[float] = []

    def show_direction(self, direction: SteeringDirection, layers: tuple[int, int]) -> None:
        import pyqtgraph as pg

        scored = [s for s in direction.separation if s.accuracy is not None]
        if not scored:
            self.clear("One pair builds a direction, but nothing is left over to test how "
                       "well it separates. Add pairs to see the layers compared.")
            self.accuracies = []
            return
        plot = self.plot()
        plot.clear()
        self._range = None
        plot.showGrid(y=True, alpha=0.25)
        plot.setLabel("bottom", "layer")
        plot.setLabel("left", "held-out accuracy")
        plot.setYRange(0.0, 1.05, padding=0)
        self.accuracies = [s.accuracy or 0.0 for s in direction.separation]
        xs = [s.layer for s in direction.separation]
        self._range = pg.LinearRegionItem(values=(layers[0] - 0.5, layers[1] + 0.5),
                                          movable=False,
                                          brush=pg.mkBrush(255, 59, 48, 40))  # HIGHLIGHT, faint
        plot.addItem(self._range)
        self._bars = pg.BarGraphItem(x=xs, height=self.accuracies, width=0.7,
                                     brush=category_color(0))
        plot.addItem(self._bars)
        chance = pg.InfiniteLine(pos=0.5, angle=0, pen=pg.mkPen(HIGHLIGHT, width=1))
        plot.addItem(chance)
        self.fit(0.02, (-0.5, xs[-1] + 0.5, 0.0, 1.05))

    def set_range(self, layers: tuple[int, int]) -> None:
        if self._range is not None:
            self._range.setRegion((layers[0] - 0.5, layers[1] + 0.5))
