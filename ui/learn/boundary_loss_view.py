"""The playground's loss curve: training and test loss after every step."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QWidget

from ui.learn.embedding_maps_plot import HIGHLIGHT, LazyPlotView, category_color

_REDRAW_S = 0.2
_LATER_MS = 60


class BoundaryLossView(LazyPlotView):
    """Points are appended as frames arrive; the curves are redrawn at most five times a
    second while training plays (`flush` draws at once: after a Step, a Pause, a stop).
    pyqtgraph downsamples long runs and clips to the view, so a redraw stays cheap."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("The loss curve appears here once training starts.", parent)
        self._train: Any = None
        self._test: Any = None
        self.steps: list[int] = []
        self.train_loss: list[float] = []
        self.test_loss: list[float] = []
        self._range = (0, 0.0)
        self._drawn_at = 0.0
        self.draws = 0
        self._later = QTimer(self)
        self._later.setSingleShot(True)
        self._later.timeout.connect(self.flush)
        self.setMinimumHeight(160)

    def _items(self) -> tuple[Any, Any]:
        import pyqtgraph as pg

        if self._train is None:
            plot = self.plot()
            plot.setLabel("bottom", "step")
            plot.setLabel("left", "loss")
            plot.setDownsampling(auto=True, mode="peak")
            plot.setClipToView(True)
            legend = plot.addLegend(offset=(-10, 10))
            legend.setBrush(pg.mkBrush(self.palette().base().color()))
            plot.disableAutoRange()
            # Antialiased thick lines cost several times more to paint, on the GUI thread.
            self._train = plot.plot([], [], pen=pg.mkPen(category_color(0), width=2),
                                    name="training loss", antialias=False)
            self._test = plot.plot([], [], pen=pg.mkPen(HIGHLIGHT, width=2,
                                                        style=Qt.PenStyle.DashLine),
                                   name="test loss", antialias=False)
        return self._train, self._test

    def add(self, rows: list[tuple[int, float, float]], now: bool = True) -> None:
        """(step, training loss, test loss) rows; non-finite losses are left out. Drawn at
        once when `now`, else only if the last draw is 0.2 s old."""
        for step, loss, test in rows:
            if loss == loss and abs(loss) != float("inf"):
                self.steps.append(step)
                self.train_loss.append(loss)
                self.test_loss.append(test if test == test and abs(test) != float("inf")
                                      else loss)
        if now:
            self.flush()
        elif not self._later.isActive() and time.monotonic() - self._drawn_at >= _REDRAW_S:
            # A pass of its own, after the boundary's: two short stalls, not one long one.
            self._later.start(_LATER_MS)

    def flush(self) -> None:
        self._later.stop()
        if not self.steps:
            return
        self._drawn_at = time.monotonic()
        self.draws += 1
        train, test = self._items()
        train.setData(self.steps, self.train_loss)
        test.setData(self.steps, self.test_loss)
        self._fit_range()

    def _fit_range(self) -> None:
        """Widen the axes in steps, not on every frame: an axis whose range changes is
        redrawn whole (its ticks and labels), the largest cost of a frame."""
        top = max(max(self.train_loss), max(self.test_loss)) * 1.05
        right = max(100, _nice_ceiling(self.steps[-1]))
        if (right, top) != self._range and (right != self._range[0] or top > self._range[1]
                                            or top < self._range[1] / 3):
            self._range = (right, top)
            self.plot().setRange(xRange=(0, right), yRange=(0, top), padding=0.02)

    def reset(self) -> None:
        """Empty the curves; the plot stays (made again it would cost a full repaint)."""
        self.steps, self.train_loss, self.test_loss = [], [], []
        self._range = (0, 0.0)
        train, test = self._items()  # made here, at a Reset, not in the first frame of Play
        train.setData([], [])
        test.setData([], [])


def _nice_ceiling(n: int) -> int:
    """The next of 100, 200, 500, 1000, 2000, 5000, ... at or above n."""
    scale = 100
    while True:
        for m in (1, 2, 5):
            if m * scale >= n:
                return m * scale
        scale *= 10
