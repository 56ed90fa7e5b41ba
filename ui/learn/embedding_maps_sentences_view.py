"""Sentences -> their cosine-similarity matrix (heatmap) and a 2D map, from the embedder."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ui.color_scale_view import ColorScaleView
from ui.learn.embedding_maps_plot import (
    HIGHLIGHT,
    LazyPlotView,
    bounds_of,
    category_color,
    text_item,
)
from ui.theme import readable

if TYPE_CHECKING:
    from core.rag.embedding_map_types import SentenceMap

_SHORT = 28
_LEVELS = (-0.2, 1.0)  # the heatmap's colour range (cosine similarity)


def similarity_color(_palette: QPalette, t: float) -> QColor:
    """The heatmap's colour at t of its range (viridis, as pyqtgraph draws it)."""
    from ui.learn.heatmap_grid import colormap_lut

    r, g, b = (int(v) for v in colormap_lut()[round(max(0.0, min(1.0, t)) * 255)])
    return QColor(r, g, b)


def _short(text: str) -> str:
    return text if len(text) <= _SHORT else text[: _SHORT - 1] + "…"


class EmbeddingMapsSentencesView(QWidget):
    """Type sentences (one per line), press Compare; the controller answers show_map."""

    map_requested = Signal(list)  # list[str], the lines as typed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.input = QPlainTextEdit()
        self.input.setPlaceholderText("One sentence per line…")
        # One sentence per row: the plots number sentences by their line.
        self.input.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.compare_button = QPushButton("Compare sentences")
        self.status = QLabel("The embedding model (all-MiniLM-L6-v2) turns each sentence into "
                             "384 numbers; similar meanings point the same way.")
        self.status.setWordWrap(True)
        self.heatmap = LazyPlotView("Press “Compare sentences” to see how similar each pair "
                                    "of sentences is to the embedding model.")
        self.map = LazyPlotView("A 2D map of the sentences appears here.")
        self.scale = ColorScaleView("Heatmap colour: cosine similarity",
                                    similarity_color, f"{_LEVELS[0]:g}",
                                    f"{_LEVELS[1]:g}")
        self.scale.hide()  # with the first heatmap (its colours are pyqtgraph's)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.result: SentenceMap | None = None

        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.input, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.compare_button)
        column.addLayout(row)
        column.addWidget(self.status)
        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(self.heatmap)
        plots.addWidget(self.map)
        right = QWidget()
        right_column = QVBoxLayout(right)
        right_column.setContentsMargins(0, 0, 0, 0)
        right_column.addWidget(plots, 1)
        right_column.addWidget(self.scale)
        right_column.addWidget(self.summary)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 4)
        splitter.setSizes([330, 770])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self.compare_button.clicked.connect(self._on_compare)

    def set_text(self, lines: list[str] | tuple[str, ...]) -> None:
        self.input.setPlainText("\n".join(lines))

    def lines(self) -> list[str]:
        return self.input.toPlainText().splitlines()

    def set_busy(self, busy: bool, message: str = "") -> None:
        self.compare_button.setEnabled(not busy)
        if message:
            self.status.setText(message)

    def _on_compare(self) -> None:
        self.map_requested.emit(self.lines())

    def show_map(self, result: SentenceMap) -> None:
        self.result = result
        self.set_busy(False, f"{len(result.sentences)} sentences embedded. Hover the plots; "
                             "numbers are line numbers.")
        self._draw_heatmap(result)
        self._draw_map(result)
        self.summary.setText(_pairs_summary(result))

    def _draw_heatmap(self, result: SentenceMap) -> None:
        import pyqtgraph as pg

        plot = self.heatmap.plot()
        plot.clear()
        n = len(result.sentences)
        # ImageItem's first axis is x: transpose so row i of the matrix is drawn at height i.
        image = pg.ImageItem(result.similarity.T, levels=_LEVELS)
        image.setColorMap(pg.colormap.get("viridis"))
        plot.addItem(image)
        self.scale.show()
        step = 1 if n <= 30 else 5  # every line number fits up to about 30
        ticks = [(i + 0.5, str(i + 1)) for i in range(n) if i % step == 0 or step == 1]
        for name in ("bottom", "left"):
            plot.getAxis(name).setTicks([ticks])
        plot.invertY(True)
        plot.setAspectLocked(True)
        plot.setTitle("cosine similarity (1 = same direction)")
        text = self.palette().color(QPalette.ColorRole.Text)
        if n <= 16:
            for i in range(n):
                for j in range(n):
                    value = float(result.similarity[i, j])
                    label = pg.TextItem(f"{value:.2f}", anchor=(0.5, 0.5),
                                        color=QColor("#000000") if value > 0.6 else
                                        QColor("#ffffff"))
                    label.setPos(j + 0.5, i + 0.5)
                    plot.addItem(label)
        plot.getAxis("bottom").setTextPen(text)
        plot.setRange(xRange=(0, n), yRange=(0, n), padding=0.02)
        self.heatmap.fit(0.02)

    def _draw_map(self, result: SentenceMap) -> None:
        import pyqtgraph as pg

        plot = self.map.plot()
        plot.clear()
        plot.setAspectLocked(True)
        share = result.explained
        plot.setTitle("2D map (PCA)")
        plot.setLabel("bottom", f"component 1 ({share[0]:.0%} of the spread)")
        plot.setLabel("left", f"component 2 ({share[1]:.0%})")
        xy = result.coords
        background = self.palette().color(QPalette.ColorRole.Window)  # the plot's
        spots = [{"pos": (float(x), float(y)), "brush": pg.mkBrush(category_color(i)),
                  "size": 12, "data": i} for i, (x, y) in enumerate(xy)]
        scatter = pg.ScatterPlotItem(spots=spots, pen=pg.mkPen("w", width=1), hoverable=True,
                                     tip=lambda x, y, data: self._tip(data))
        plot.addItem(scatter)
        # Numbers only: sentences near each other would bury each other's text (hover a point
        # for its sentence).
        for i in range(len(result.sentences)):
            label = text_item(str(i + 1), readable(category_color(i), background),
                              (-0.3, 1.1))
            label.setPos(float(xy[i, 0]), float(xy[i, 1]))
            plot.addItem(label)
        pair = _closest_pair(result)
        if pair is not None:
            i, j = pair
            plot.plot([xy[i, 0], xy[j, 0]], [xy[i, 1], xy[j, 1]],
                      pen=pg.mkPen(HIGHLIGHT, width=2, style=Qt.PenStyle.DashLine))
        self.map.fit(0.12, bounds_of(xy))

    def _tip(self, index: object) -> str:
        if self.result is None or not isinstance(index, int):
            return ""
        return f"{index + 1}. {self.result.sentences[index]}"


def _closest_pair(result: SentenceMap) -> tuple[int, int] | None:
    n = len(result.sentences)
    best, pair = -2.0, None
    for i in range(n):
        for j in range(i + 1, n):
            if float(result.similarity[i, j]) > best:
                best, pair = float(result.similarity[i, j]), (i, j)
    return pair


def _pairs_summary(result: SentenceMap) -> str:
    n = len(result.sentences)
    pairs = sorted(((float(result.similarity[i, j]), i, j) for i in range(n)
                    for j in range(i + 1, n)), reverse=True)
    most, least = pairs[0], pairs[-1]

    def quote(i: int) -> str:
        return f"{i + 1} “{html.escape(_short(result.sentences[i]))}”"

    return (f"Most similar: {quote(most[1])} and {quote(most[2])} (<b>{most[0]:.2f}</b>, "
            f"dashed on the map). Least: {quote(least[1])} and {quote(least[2])} "
            f"(<b>{least[0]:.2f}</b>). The map squeezes 384 dimensions into 2: trust the "
            "heatmap where they disagree.")
