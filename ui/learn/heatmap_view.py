"""A heatmap of one matrix over tokens, with a read-out of the cell under the mouse."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ui.color_scale_view import ColorScaleView
from ui.learn.pieces import label, percent
from ui.theme import mark_secondary

if TYPE_CHECKING:
    import numpy as np

    from ui.learn.heatmap_plot import HeatmapPlot

_MAX_LABEL = 10


def short(piece: str) -> str:
    """A piece as an axis label: visible whitespace, long pieces cut."""
    text = label(piece)
    return text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1] + "…"


def attention_color(_palette: QPalette, t: float) -> QColor:
    """The heatmap's colour at position t of its (square-root) scale."""
    from ui.learn.heatmap_grid import colormap_lut

    r, g, b = (int(v) for v in colormap_lut()[round(max(0.0, min(1.0, t)) * 255)])
    return QColor(r, g, b)


class HeatmapView(QWidget):
    """`matrix[row][column]` in [0, 1]; rows and columns are labelled with token pieces.

    The pyqtgraph plot is made on the first matrix: pyqtgraph (and numpy) stay off the
    window's start path.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.readout = QLabel("Hover a cell: which token looks at which, and how much.")
        mark_secondary(self.readout)  # quieter, still AA
        self.plot: HeatmapPlot | None = None
        self.matrix: np.ndarray | None = None  # a view into the capture, never a copy of it
        self._rows: list[str] = []
        self._columns: list[str] = []
        self._row_offset = 0
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(self.title)
        self._placeholder = QLabel("Capture a text to see its attention here.")
        self._layout.addWidget(self._placeholder, 1)
        self._layout.addWidget(self.readout)
        # Shown with the first matrix: its colours come from pyqtgraph's viridis.
        self.scale = ColorScaleView("Colour: share of the row's attention (square-root "
                                    "scale, 25% mid-way)", attention_color, "0%", "100%")
        self.scale.hide()
        self._layout.addWidget(self.scale)

    def set_matrix(self, matrix: np.ndarray, rows: list[str], columns: list[str],
                   title: str, row_offset: int = 0) -> None:
        """`rows`/`columns`: the pieces (raw) along each axis; row r is token r + row_offset."""
        from ui.learn.heatmap_grid import scaled

        plot = self._ensure_plot()
        self.matrix, self._rows, self._columns = matrix, rows, columns
        self._row_offset = row_offset
        self.title.setText(title)
        plot.show_matrix(scaled(matrix), [short(p) for p in rows], [short(p) for p in columns])

    def shown_image(self) -> Any:
        """The image data on screen (the scaled matrix)."""
        return self.plot.image.image if self.plot is not None else None

    def _ensure_plot(self) -> HeatmapPlot:
        if self.plot is None:
            from ui.learn.heatmap_plot import HeatmapPlot

            self.plot = HeatmapPlot()
            self.plot.hovered.connect(self._on_hovered)
            self._layout.replaceWidget(self._placeholder, self.plot)
            self._placeholder.deleteLater()
            self.scale.show()
        return self.plot

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self.plot is not None:
            self.plot.apply_palette(self.palette())

    def _on_hovered(self, row: int, column: int) -> None:
        if row < 0 or self.matrix is None:
            return
        weight = float(self.matrix[row, column])
        self.readout.setEnabled(True)
        self.readout.setText(f"<b>{html.escape(label(self._rows[row]))}</b> "
                             f"(token {row + self._row_offset}) → "
                             f"<b>{html.escape(label(self._columns[column]))}</b> "
                             f"(token {column}): "
                             f"{percent(weight)} of its attention")
