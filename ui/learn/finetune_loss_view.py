"""The loss curve of a training run: training loss per step, held-out loss where measured."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from ui.learn.embedding_maps_plot import HIGHLIGHT, LazyPlotView, category_color

if TYPE_CHECKING:
    from core.finetune.lab import LossCurves


class FinetuneLossView(LazyPlotView):
    """Redrawn from the whole curve on each new point: a run has hundreds of steps at most,
    and setData on two items is cheaper than anything cleverer."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("The loss curve appears here once training starts: lower means the "
                         "model finds the examples' replies more expected.", parent)
        self._train: Any = None
        self._held: Any = None
        self.points: dict[str, list[tuple[int, float]]] = {"train": [], "held_out": []}

    def _items(self) -> tuple[Any, Any]:
        import pyqtgraph as pg

        if self._train is None:
            plot = self.plot()
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.setLabel("bottom", "training step")
            plot.setLabel("left", "loss (nats per learned token)")
            legend = plot.addLegend(offset=(-10, 10))  # top right: losses fall away from it
            legend.setBrush(pg.mkBrush(self.palette().base().color()))
            self._train = plot.plot([], [], pen=pg.mkPen(category_color(0), width=2),
                                    name="training loss (this step's batch)")
            dashed = pg.mkPen(HIGHLIGHT, width=2, style=Qt.PenStyle.DashLine)
            self._held = plot.plot([], [], pen=dashed,
                                   symbol="o", symbolSize=8, symbolBrush=HIGHLIGHT,
                                   name="held-out loss (never trained on)")
        return self._train, self._held

    def show_curves(self, curves: LossCurves) -> None:
        self.points = {"train": list(zip(curves.train_steps, curves.train_loss, strict=True)),
                       "held_out": list(zip(curves.held_steps, curves.held_loss, strict=True))}
        if not curves.train_steps and not curves.held_steps:
            self.reset()
            return
        train, held = self._items()
        train.setData(curves.train_steps, curves.train_loss)
        held.setData(curves.held_steps, curves.held_loss)
        self.plot().enableAutoRange()

    def reset(self) -> None:
        self.points = {"train": [], "held_out": []}
        self.clear()  # removes the two curves (and their legend entries) from the plot
        self._train = self._held = None
