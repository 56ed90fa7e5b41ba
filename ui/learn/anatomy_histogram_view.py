"""A histogram of one tensor's dequantized weights (pyqtgraph, made on first use)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from core.gguf.anatomy_types import WeightHistogram

_BAR = "#3d8bfd"


class WeightHistogramView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Click a tensor to see the distribution of its weights.")
        self.title.setWordWrap(True)
        self.plot: Any = None
        self.histogram: WeightHistogram | None = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(self.title)
        self._layout.addStretch(1)

    def set_loading(self, tensor: str) -> None:
        self.title.setText(f"Reading <b>{tensor}</b> and dequantizing its weights…")

    def show_histogram(self, histogram: WeightHistogram) -> None:
        import pyqtgraph as pg

        if self.plot is None:
            self.plot = pg.PlotWidget()
            self.plot.getPlotItem().setMenuEnabled(False)
            self.plot.getPlotItem().hideButtons()
            self.plot.setLabel("bottom", "weight (dequantized)")
            self.plot.setLabel("left", "count")
            self._layout.insertWidget(1, self.plot, 1)
            self._layout.takeAt(2)  # the stretch: the plot fills the room now
            self._apply_palette()
        self.histogram = histogram
        self.plot.clear()
        edges, counts = histogram.edges, histogram.counts
        self.plot.addItem(pg.PlotDataItem(edges, counts, stepMode="center", fillLevel=0,
                                          brush=pg.mkBrush(_BAR), pen=pg.mkPen(_BAR)))
        self.title.setText(
            f"<b>{histogram.tensor}</b> ({histogram.type_name}) · {histogram.n_values:,} "
            f"values · min {histogram.minimum:.4g} · max {histogram.maximum:.4g} · "
            f"mean {histogram.mean:.4g} · std {histogram.std:.4g}")

    def _apply_palette(self) -> None:
        """pyqtgraph draws on black by default: follow the window's palette instead."""
        if self.plot is None:
            return
        palette = self.palette()
        self.plot.setBackground(palette.color(QPalette.ColorRole.Window))
        text = palette.color(QPalette.ColorRole.WindowText)
        for name in ("left", "bottom"):
            axis = self.plot.getPlotItem().getAxis(name)
            axis.setPen(text)
            axis.setTextPen(text)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
