"""The logit lens as a Qt table model: layers down, positions across, one prediction a cell."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont, QPalette

from core.engine.capture_types import LensCell, LensView
from ui.learn import shading
from ui.learn.heatmap_view import short
from ui.learn.pieces import label, percent

_Index = QModelIndex | QPersistentModelIndex
PROB_ROLE = Qt.ItemDataRole.UserRole + 1


class LensTableModel(QAbstractTableModel):
    """Row r: layer `view.layers[r]`; column p: what the stream predicts after token p.
    Only the views' own objects are held: no copy of the cells."""

    def __init__(self, palette: QPalette) -> None:
        super().__init__()
        self._view: LensView | None = None
        self._palette = palette
        self._bold = QFont()
        self._bold.setBold(True)

    def set_view(self, view: LensView | None) -> None:
        self.beginResetModel()
        self._view = view
        self.endResetModel()

    def set_palette(self, palette: QPalette) -> None:
        self._palette = palette
        if self._view is not None:
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(self.rowCount() - 1, self.columnCount() - 1))

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802,B008
        return len(self._view.cells) if self._view is not None and not parent.isValid() else 0

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802,B008
        return len(self._view.tokens) if self._view is not None and not parent.isValid() else 0

    def cell(self, row: int, column: int) -> LensCell:
        assert self._view is not None
        return self._view.cells[row][column]

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        view = self._view
        if view is None or not index.isValid():
            return None
        cell = view.cells[index.row()][index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return short(cell.piece)
        if role == PROB_ROLE:
            return cell.prob
        if role == Qt.ItemDataRole.BackgroundRole:
            return shading.confidence_color(self._palette, cell.prob)
        if role == Qt.ItemDataRole.ForegroundRole:
            return shading.readable_on(shading.confidence_color(self._palette, cell.prob))
        if role == Qt.ItemDataRole.FontRole:
            # Bold where this layer already picks what the whole model finally predicts.
            return self._bold if cell.id == view.actual[index.column()].id else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(index.row(), index.column())
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        view = self._view
        if view is None:
            return None
        if orientation == Qt.Orientation.Horizontal:
            token = view.tokens[section]
            if role == Qt.ItemDataRole.DisplayRole:
                return short(token.text)
            if role == Qt.ItemDataRole.ToolTipRole:
                actual = view.actual[section]
                return (f"token {section}: <b>{html.escape(label(token.text))}</b><br>the model "
                        f"predicts next: <b>{html.escape(label(actual.piece))}</b> "
                        f"{percent(actual.prob)}")
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return f"layer {view.layers[section]}"
        return None

    def _tooltip(self, row: int, column: int) -> str:
        assert self._view is not None
        view = self._view
        cell = view.cells[row][column]
        after = html.escape(label(view.tokens[column].text))
        lines = [f"layer {view.layers[row]}, after <b>{after}</b> (token {column}):",
                 "the stream would predict"]
        for candidate in cell.top or [cell]:
            lines.append(f"&nbsp;&nbsp;{html.escape(label(candidate.piece))} "
                         f"{percent(candidate.prob)}")
        actual = view.actual[column]
        lines.append(f"the model's output: {html.escape(label(actual.piece))} "
                     f"{percent(actual.prob)}")
        return "<br>".join(lines)
