"""The playground's loss curve: training and test loss after every step."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from ui.learn.embedding_maps_plot import HIGHLIGHT, LazyPlotView, category_color


class BoundaryLossView(LazyPlotView):
    """Points are appended as frames arrive; the two curves are set whole each frame
    (pyqtgraph downsamples long runs and clips to the view, so this stays cheap)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("The loss curve appears here once training starts.", parent)
        self._train: Any = None
        self._test: Any = None
        self.steps: list[int] = []
        self.train_loss: list[float] = []
        self.test_loss: list[float] = []
        self.setMinimumHeight(160)

    def _items(self) -> tuple[Any, Any]:
        import pyqtgraph as pg

        if self._train is None:
            plot = self.plot()
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.setLabel("bottom", "step")
            plot.setLabel("left", "loss")
            plot.setDownsampling(auto=True, mode="peak")
            plot.setClipToView(True)
            legend = plot.addLegend(offset=(-10, 10))
            legend.setBrush(pg.mkBrush(self.palette().base().color()))
            self._train = plot.plot([], [], pen=pg.mkPen(category_color(0), width=2),
                                    name="training loss")
            self._test = plot.plot([], [], pen=pg.mkPen(HIGHLIGHT, width=2,
                                                        style=Qt.PenStyle.DashLine),
                                   name="test loss")
        return self._train, self._test

    def add(self, rows: list[tuple[int, float, float]]) -> None:
        """(step, training loss, test loss) rows; non-finite losses are left out."""
        for step, loss, test in rows:
            if loss == loss and abs(loss) != float("inf"):
                self.steps.append(step)
                self.train_loss.append(loss)
                self.test_loss.append(test if test == test and abs(test) != float("inf")
                                      else loss)
        if not self.steps:
            return
        train, test = self._items()
        train.setData(self.steps, self.train_loss)
        test.setData(self.steps, self.test_loss)

    def reset(self) -> None:
        self.steps, self.train_loss, self.test_loss = [], [], []
        self.clear()
        self._train = self._test = None
