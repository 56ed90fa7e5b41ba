"""How far the adapter moves the residual stream, layer by layer (relative L2, mean over the
example's tokens), with the most moved layers named."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QWidget

from ui.learn.embedding_maps_plot import HIGHLIGHT, LazyPlotView, category_color

if TYPE_CHECKING:
    from core.finetune.effect import AdapterEffect


class FinetuneDriftView(LazyPlotView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("After training: how far the adapter moves the model's hidden state, "
                         "layer by layer.", parent)
        self.values: list[float] = []
        self.most_moved: list[int] = []

    def show_effect(self, effect: AdapterEffect) -> None:
        import pyqtgraph as pg

        plot = self.plot()
        plot.clear()
        plot.showGrid(x=True, y=True, alpha=0.25)
        self.values = [float(v) for v in effect.drift_relative_l2]
        self.most_moved = effect.most_moved_layers(3)
        plot.setTitle("Residual drift · most moved layers: "
                      + ", ".join(str(i) for i in self.most_moved))
        plot.setLabel("bottom", "layer")
        plot.setLabel("left", "‖with − without‖ / ‖without‖")
        layers = list(range(len(self.values)))
        plot.plot(layers, self.values, pen=pg.mkPen(category_color(0), width=2), symbol="o",
                  symbolSize=5, symbolBrush=category_color(0))
        plot.plot(self.most_moved, [self.values[i] for i in self.most_moved], pen=None,
                  symbol="o", symbolSize=11, symbolBrush=HIGHLIGHT)
        plot.autoRange()
