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

    def prepare(self) -> None:
        """Make the plot, its scatter and its labels now, still behind the hint: made on the
        first map, they stalled the window for the map's whole first draw."""
        import pyqtgraph as pg

        plot = self.make()
        if self._scatter is None:
            plot.showGrid(x=True, y=True, alpha=0.2)
            self._scatter = pg.ScatterPlotItem(size=7, brush=pg.mkBrush(category_color(0)),
                                               pen=None)
            plot.addItem(self._scatter)
        if not self._labels:
            # made once a run, then only given their text and moved: making 60 TextItems
            # took 0.35 s a redraw
            text = self.palette().text().color()
            self._labels = [pg.TextItem("", color=text, anchor=(0.5, 1.2))
                            for _ in range(_LABELS)]
            for label in self._labels:
                label.hide()
                plot.addItem(label)

    def show_map(self, step: int, pieces: list[str], xy: np.ndarray,
                 explained: tuple[float, float]) -> None:
        self.prepare()
        plot = self.plot()
        plot.setTitle(f"step {step}: {explained[0] + explained[1]:.0%} of the spread shown")
        self.points, self.pieces = xy, pieces
        self._scatter.setData(xy[:, 0], xy[:, 1])
        for i, label in enumerate(self._labels):
            if i >= len(pieces):
                label.hide()
                continue
            piece = pieces[i].strip() or repr(pieces[i])
            if label.toPlainText() != piece:
                label.setText(piece)
            label.setPos(float(xy[i, 0]), float(xy[i, 1]))
            label.show()
        x0, x1 = float(xy[:, 0].min()), float(xy[:, 0].max())
        y0, y1 = float(xy[:, 1].min()), float(xy[:, 1].max())
        self.fit(0.08, (x0, x1, y0, y1))
