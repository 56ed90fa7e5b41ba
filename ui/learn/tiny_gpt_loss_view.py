"""The tiny model's loss curves: training loss per step, held-out loss where measured, and the
line a model that only knew token frequencies would sit on (the unigram entropy)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from ui.learn.embedding_maps_plot import HIGHLIGHT, LazyPlotView, category_color


class TinyGptLossView(LazyPlotView):
    """Redrawn from the whole curve (a run has thousands of points at most: setData is cheap)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("The loss curves appear here once training starts: lower means the "
                         "model finds the text's next token more expected.", parent)
        self._items: tuple[Any, Any, Any] | None = None
        self.train: list[tuple[int, float]] = []
        self.held_out: list[tuple[int, float]] = []
        self.unigram: float | None = None
        self._drawn: tuple[int, int, float | None] | None = None  # what the curves show

    def _made(self) -> tuple[Any, Any, Any]:
        import pyqtgraph as pg

        if self._items is None:
            plot = self.make()
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.setLabel("bottom", "training step")
            plot.setLabel("left", "loss (nats per token)")
            legend = plot.addLegend(offset=(-10, 10))
            legend.setBrush(pg.mkBrush(self.palette().base().color()))
            train = plot.plot([], [], pen=pg.mkPen(category_color(0), width=2),
                              name="training loss (this step's batch)")
            held = plot.plot([], [], pen=pg.mkPen(HIGHLIGHT, width=2,
                                                  style=Qt.PenStyle.DashLine),
                             symbol="o", symbolSize=7, symbolBrush=HIGHLIGHT,
                             name="held-out loss (never trained on)")
            floor = plot.plot([], [], pen=pg.mkPen(category_color(2), width=2,
                                                   style=Qt.PenStyle.DotLine),
                              name="token frequencies alone (unigram entropy)")
            self._items = (train, held, floor)
        return self._items

    def prepare(self) -> None:
        """Make the plot and its curves now, still behind the hint (shown with the first
        points)."""
        self._made()

    def reset(self) -> None:
        self.train, self.held_out, self.unigram = [], [], None
        self.clear()
        self._items, self._drawn = None, None

    def set_unigram(self, entropy: float) -> None:
        self.unigram = entropy

    def add_train(self, step: int, loss: float) -> None:
        self.train.append((step, loss))

    def add_held_out(self, step: int, loss: float) -> None:
        self.held_out.append((step, loss))

    def redraw(self) -> bool:
        """Push the points to the plot (the panel calls this at most a few times a second);
        False when there is nothing to draw yet."""
        if not self.train and not self.held_out:
            return False
        drawn = (len(self.train), len(self.held_out), self.unigram)
        if drawn == self._drawn:
            return False  # nothing new (a paused run): no drawing for the same points
        self._drawn = drawn
        train, held, floor = self._made()
        self.plot()  # shown in place of the hint from the first points on
        finite = [(s, v) for s, v in self.train if v == v and abs(v) != float("inf")]
        train.setData([s for s, _ in finite], [v for _, v in finite])
        held.setData([s for s, _ in self.held_out], [v for _, v in self.held_out])
        if self.unigram is not None:
            last = max([s for s, _ in self.train] + [s for s, _ in self.held_out] + [1])
            floor.setData([0, last], [self.unigram, self.unigram])
        return True
