"""What the adapter is made of: rank, alpha, the adapted weights, and how far it moves each
layer's weights (the norm of alpha / r · B·A), one bar per module in each layer."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ui.learn.embedding_maps_plot import LazyPlotView, category_color

if TYPE_CHECKING:
    from core.finetune.gguf_lora import AdapterAnatomy


class FinetuneAnatomyView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel("After training: the adapter's rank, alpha and size.")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.bars = LazyPlotView("Per-layer weight change appears here.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.bars, 1)
        self.norms: dict[str, list[float]] = {}

    def show_anatomy(self, anatomy: AdapterAnatomy) -> None:
        import pyqtgraph as pg

        self.summary.setText(
            f"<b>Adapter</b>: rank {anatomy.rank}, alpha {anatomy.alpha:g} (scale "
            f"{anatomy.scale:g}), on {html.escape(', '.join(anatomy.modules))} in "
            f"{anatomy.layers} layers: {anatomy.n_params:,} numbers learned.")
        plot = self.bars.plot()
        plot.clear()
        plot.setTitle("How far the adapter moves each weight: ‖(α/r)·B·A‖")
        plot.setLabel("bottom", "layer")
        legend = plot.addLegend(offset=(10, 10))
        legend.setBrush(pg.mkBrush(self.palette().base().color()))
        width = 0.8 / max(1, len(anatomy.modules))
        self.norms = {}
        for k, module in enumerate(anatomy.modules):
            rows = sorted((n.layer, n.norm) for n in anatomy.norms if n.module == module)
            self.norms[module] = [v for _, v in rows]
            xs = [layer - 0.4 + width * (k + 0.5) for layer, _ in rows]
            color = category_color(k)
            plot.addItem(pg.BarGraphItem(x=xs, height=self.norms[module], width=width,
                                         brush=color, pen=pg.mkPen(None), name=module))
        plot.autoRange()
