"""The tiny model's token embeddings on a 2D map (principal components), labelled by piece:
tokens that play the same part in the text drift together as the model learns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QWidget

from ui.learn.embedding_maps_plot import LazyPlotView, category_color

if TYPE_CHECKING:
    import numpy as np

_LABELS = 24  # more labels turn the map into ink, and each costs a repaint per update


class TinyGptEmbeddingView(LazyPlotView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("The token embeddings appear here on a 2D map as they organize.",
                         parent)
        self._scatter: Any = None
        self._labels: list[Any] = []
        self.points: np.ndarray | None = None
        self.pieces: list[str] = []

    def reset(self) -> None:
        self.clear()
        self._scatter, self._labels, self.points = None, [], None

    def show_map(self, step: int, pieces: list[str], xy: np.ndarray,
                 explained: tuple[float, float]) -> None:
        import pyqtgraph as pg

        plot = self.plot()
        if self._scatter is None:
            plot.showGrid(x=True, y=True, alpha=0.2)
            self._scatter = pg.ScatterPlotItem(size=7, brush=pg.mkBrush(category_color(0)),
                                               pen=None)
            plot.addItem(self._scatter)
        plot.setTitle(f"step {step}: {explained[0] + explained[1]:.0%} of the spread shown")
        self.points, self.pieces = xy, pieces
        self._scatter.setData(xy[:, 0], xy[:, 1])
        if len(self._labels) != min(len(pieces), _LABELS):
            # made once a run and then only moved: making 60 TextItems took 0.35 s a redraw
            for label in self._labels:
                plot.removeItem(label)
            text = self.palette().text().color()
            self._labels = [pg.TextItem(p.strip() or repr(p), color=text, anchor=(0.5, 1.2))
                            for p in pieces[:_LABELS]]
            for label in self._labels:
                plot.addItem(label)
        for i, label in enumerate(self._labels):
            label.setPos(float(xy[i, 0]), float(xy[i, 1]))
        x0, x1 = float(xy[:, 0].min()), float(xy[:, 0].max())
        y0, y1 = float(xy[:, 1].min()), float(xy[:, 1].max())
        self.fit(0.08, (x0, x1, y0, y1))
