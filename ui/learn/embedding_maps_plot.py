"""Plot helpers for the embedding maps and the quantization lab.

pyqtgraph imports numpy, so a plot is made the first time something is drawn, not when the
window starts: `LazyPlotView` holds a hint until then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette, QResizeEvent
from PySide6.QtWidgets import QLabel, QStackedLayout, QWidget

from ui.theme import mark_secondary

if TYPE_CHECKING:
    import pyqtgraph as pg

# Distinct, colour-blind-friendly hues (Okabe-Ito, then Tableau) for documents on a map.
CATEGORY_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
                   "#F0E442", "#7f7f7f", "#9467bd", "#8c564b", "#17becf", "#bcbd22")
HIGHLIGHT = "#ff3b30"


def category_color(index: int) -> QColor:
    return QColor(CATEGORY_COLORS[index % len(CATEGORY_COLORS)])


class LazyPlotView(QWidget):
    """A pyqtgraph PlotWidget made on first use, with the palette's colours."""

    def __init__(self, hint: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QStackedLayout(self)
        self.hint = QLabel(hint)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        mark_secondary(self.hint)  # quieter, still AA
        self._layout.addWidget(self.hint)
        self._plot: pg.PlotWidget | None = None
        self._fit: tuple[float, tuple[float, float, float, float] | None] | None = None

    def fit(self, padding: float, bounds: tuple[float, float, float, float] | None = None) \
            -> None:
        """Show all the data now and after every resize (aspect-locked maps otherwise keep
        the range they had at their first, smaller size and cut points off). `bounds`
        (x0, x1, y0, y1) fits those exactly, padding included, where autoRange would trim
        the padding of the axis the aspect lock stretches."""
        self._fit = (padding, bounds)
        self._apply_fit()

    def _apply_fit(self) -> None:
        if self._plot is None or self._fit is None:
            return
        padding, bounds = self._fit
        if bounds is None:
            self._plot.autoRange(padding=padding)
            return
        x0, x1, y0, y1 = bounds
        dx, dy = max(x1 - x0, 1e-9) * padding, max(y1 - y0, 1e-9) * padding
        self._plot.setRange(xRange=(x0 - dx, x1 + dx), yRange=(y0 - dy, y1 + dy), padding=0)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._apply_fit()

    @property
    def made(self) -> bool:
        return self._plot is not None

    def plot(self) -> pg.PlotWidget:
        """The plot, made now if needed and shown in place of the hint."""
        plot = self.make()
        self._layout.setCurrentWidget(plot)
        return plot

    def make(self) -> pg.PlotWidget:
        """The plot, made now if needed but left behind the hint: a view can make it ahead of
        its data, so the making and the first drawing land on different event-loop turns."""
        if self._plot is None:
            import pyqtgraph as pg

            palette = self.palette()
            # Titles, axis labels and legend entries take the global foreground, not the
            # widget's: pyqtgraph's default grey (#969696) is 2.9:1 on white.
            pg.setConfigOptions(antialias=True,
                                foreground=palette.color(QPalette.ColorRole.Text))
            # no context menus: made and then dropped, they were a quarter of the making
            self._plot = pg.PlotWidget(
                background=palette.color(QPalette.ColorRole.Base),
                foreground=palette.color(QPalette.ColorRole.Text), enableMenu=False)
            self._plot.setMenuEnabled(False)
            for side in ("bottom", "left"):
                # Without this, small ranges are shown as "-500 ... 500 (x0.001)".
                self._plot.getAxis(side).enableAutoSIPrefix(False)
            self._layout.addWidget(self._plot)
        return self._plot

    def clear(self, hint: str | None = None) -> None:
        if hint is not None:
            self.hint.setText(hint)
        if self._plot is not None:
            self._plot.clear()
        self._layout.setCurrentWidget(self.hint)


def text_item(text: str, color: QColor | str, anchor: tuple[float, float] = (0, 1)) -> Any:
    import pyqtgraph as pg

    return pg.TextItem(text, color=color, anchor=anchor)


def bounds_of(xy: Any) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) of an [n][2] array of points."""
    return (float(xy[:, 0].min()), float(xy[:, 0].max()), float(xy[:, 1].min()),
            float(xy[:, 1].max()))
