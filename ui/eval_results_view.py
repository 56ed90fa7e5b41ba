"""A run's results: the subjects × metrics matrix, the significance notes, and a bar chart of one
metric with its bootstrap intervals as whiskers."""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.theme import mark_secondary


def interval_text(interval: dict[str, Any]) -> str:
    value = interval.get("value")
    if value is None or math.isnan(value):
        return "—"
    return f"{value:.3g} [{interval['low']:.3g}, {interval['high']:.3g}]"


class EvalResultsView(QWidget):
    """Shows a run overview (plain data from the controller); keeps nothing else."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._overview: dict[str, Any] | None = None
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setToolTip("Mean per subject and metric, with its 95% bootstrap interval "
                              "[low, high]: an interval wider than the gap between two "
                              "subjects means the set is too small to tell them apart.")
        self.significance = QLabel()
        self.significance.setWordWrap(True)
        self.significance.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        mark_secondary(self.significance)
        self.metric_combo = QComboBox()
        self.metric_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.metric_combo.setToolTip("The metric the chart shows")
        self.metric_combo.currentIndexChanged.connect(self._on_metric)
        self.metric_note = QLabel()
        self.metric_note.setWordWrap(True)
        mark_secondary(self.metric_note)
        self.chart = QWidget()  # replaced by a pyqtgraph plot on first use (a heavy import)
        self.chart.setMinimumHeight(150)
        self._plot: Any = None
        chart_row = QHBoxLayout()
        chart_row.addWidget(QLabel("Chart"))
        chart_row.addWidget(self.metric_combo)
        chart_row.addWidget(self.metric_note, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addWidget(self.significance)
        layout.addLayout(chart_row)
        self._chart_index = layout.count()
        layout.addWidget(self.chart, 3)

    def clear(self) -> None:
        self._overview = None
        self.table.clear()
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self.significance.clear()
        self.metric_combo.clear()
        if self._plot is not None:
            self._plot.clear()

    def show_overview(self, overview: dict[str, Any]) -> None:
        self._overview = overview
        metrics: list[str] = overview["metrics"]
        summary: list[dict[str, Any]] = overview["summary"]
        self.table.clear()
        self.table.setRowCount(len(summary))
        self.table.setColumnCount(len(metrics) + 1)
        self.table.setHorizontalHeaderLabels(["items", *metrics])
        self.table.setVerticalHeaderLabels([s["label"] for s in summary])
        for column, metric in enumerate(metrics, start=1):
            header = self.table.horizontalHeaderItem(column)
            if header is not None:
                header.setToolTip(overview["explanations"].get(metric, ""))
        for row, subject in enumerate(summary):
            failed = f" ({subject['failed']} failed)" if subject["failed"] else ""
            self.table.setItem(row, 0, QTableWidgetItem(f"{subject['completed']}{failed}"))
            for column, x in enumerate(subject["metrics"], start=1):
                cell = QTableWidgetItem(interval_text(x["interval"]))
                extra = [f"n={x['interval']['n']}"]
                if x.get("skipped"):
                    extra.append(f"{x['skipped']} skipped")
                if x.get("unparsed"):
                    extra.append(f"{x['unparsed']} unparsed")
                cell.setToolTip(f"{x['explanation']}\n{', '.join(extra)}")
                self.table.setItem(row, column, cell)
        fit = QHeaderView.ResizeMode.ResizeToContents
        self.table.horizontalHeader().setSectionResizeMode(fit)
        # As tall as its rows (at most four subjects): the chart gets the rest.
        self.table.resizeRowsToContents()
        height = self.table.horizontalHeader().height() + 2 * self.table.frameWidth()
        height += sum(self.table.rowHeight(r) for r in range(self.table.rowCount()))
        self.table.setFixedHeight(height + 2)
        notes = overview["significance"]
        if notes:
            self.significance.setText("\n".join(("⚑ " if n["significant"] else "") + n["note"]
                                                for n in notes))
        else:
            self.significance.setText("Add a second subject to see whether the differences "
                                      "are larger than chance.")
        current = self.metric_combo.currentText()
        self.metric_combo.blockSignals(True)
        self.metric_combo.clear()
        self.metric_combo.addItems(metrics)
        if current in metrics:
            self.metric_combo.setCurrentText(current)
        self.metric_combo.blockSignals(False)
        self._on_metric()

    def cell_text(self, row: int, metric: str) -> str:
        """The matrix cell of subject `row` and `metric` (tests and screen readers)."""
        assert self._overview is not None
        column = self._overview["metrics"].index(metric) + 1
        item = self.table.item(row, column)
        return item.text() if item is not None else ""

    def _ensure_plot(self) -> Any:
        if self._plot is None:
            import pyqtgraph as pg

            self._plot = pg.PlotWidget()
            self._plot.setMinimumHeight(150)
            self._plot.setMenuEnabled(False)
            self._plot.setMouseEnabled(x=False, y=False)
            self._plot.hideButtons()
            # The window's colours, not pyqtgraph's black: the chart sits among widgets.
            self._plot.setBackground(self.palette().base().color())
            for name in ("left", "bottom"):
                self._plot.getAxis(name).setTextPen(self.palette().text().color())
                self._plot.getAxis(name).setPen(self.palette().mid().color())
            layout = self.layout()
            assert isinstance(layout, QVBoxLayout)
            layout.replaceWidget(self.chart, self._plot)
            self.chart.deleteLater()
            self.chart = self._plot
            self._plot.show()  # a widget added to a shown parent stays hidden until shown
        return self._plot

    def _on_metric(self) -> None:
        if self._overview is None or not self.metric_combo.currentText():
            return
        import numpy as np
        import pyqtgraph as pg

        metric = self.metric_combo.currentText()
        self.metric_note.setText(self._overview["explanations"].get(metric, ""))
        index = self._overview["metrics"].index(metric)
        rows = [s["metrics"][index]["interval"] for s in self._overview["summary"]]
        labels = [s["label"] for s in self._overview["summary"]]
        plot = self._ensure_plot()
        plot.clear()
        xs = np.arange(len(rows), dtype=float)
        values = np.array([r["value"] if r["value"] is not None else math.nan for r in rows],
                          dtype=float)
        shown = np.nan_to_num(values)
        colour = self.palette().highlight().color()
        plot.addItem(pg.BarGraphItem(x=xs, height=shown, width=0.6, brush=colour))
        low = np.array([r["low"] for r in rows], dtype=float)
        high = np.array([r["high"] for r in rows], dtype=float)
        ok = ~np.isnan(values) & ~np.isnan(low) & ~np.isnan(high)
        if ok.any():
            pen = pg.mkPen(self.palette().text().color(), width=2)
            plot.addItem(pg.ErrorBarItem(x=xs[ok], y=values[ok], top=high[ok] - values[ok],
                                         bottom=values[ok] - low[ok], beam=0.2, pen=pen))
        axis = plot.getAxis("bottom")
        axis.setTicks([[(float(x), label) for x, label in zip(xs, labels, strict=True)]])
        plot.setLabel("left", metric)
        plot.setXRange(-0.6, len(rows) - 0.4, padding=0)
        tops = np.concatenate([shown, np.nan_to_num(high)])
        plot.setYRange(0, float(tops.max()) * 1.1 if tops.size and tops.max() > 0 else 1.0,
                       padding=0)
