"""Per-layer drift of the residual stream between the original and the quantized model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QWidget

from ui.learn.embedding_maps_plot import HIGHLIGHT, LazyPlotView, category_color

if TYPE_CHECKING:
    from core.models.quant_lab_types import QuantComparison


class QuantLabDriftView(LazyPlotView):
    """Two curves over layers, log scale: 1 − cosine and relative L2 distance."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("After a comparison: how far the quantized model's hidden state "
                         "drifts from the original's, layer by layer.", parent)
        self.curves: dict[str, list[float]] = {}

    def show_comparison(self, result: QuantComparison) -> None:
        import numpy as np
        import pyqtgraph as pg

        plot = self.plot()
        plot.clear()
        plot.setLogMode(y=True)
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.setTitle("Residual stream drift per layer (mean over tokens)")
        plot.setLabel("bottom", "layer")
        legend = plot.addLegend(offset=(-10, -40))  # bottom right: below both curves
        legend.setBrush(pg.mkBrush(self.palette().base().color()))
        layers = np.arange(len(result.drift_cosine))
        # Log axes cannot show 0 (the model against itself): floor at a tiny positive value.
        cosine = np.maximum(result.drift_cosine, 1e-9)
        relative = np.maximum(result.drift_relative_l2, 1e-9)
        plot.plot(layers, relative, pen=pg.mkPen(category_color(0), width=2), symbol="o",
                  symbolSize=5, symbolBrush=category_color(0), name="relative L2 ‖q − o‖/‖o‖")
        plot.plot(layers, cosine, pen=pg.mkPen(HIGHLIGHT, width=2), symbol="t", symbolSize=5,
                  symbolBrush=HIGHLIGHT, name="1 − cosine")
        self.curves = {"cosine": cosine.tolist(), "relative_l2": relative.tolist()}
        plot.autoRange()
