"""The model's tensors as a sortable, filterable table: name, shape, type, bytes, bits/weight."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from core.gguf.anatomy_types import TensorInfo

_Index = QModelIndex | QPersistentModelIndex
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
COLUMNS = ("Tensor", "Shape", "Type", "Size", "Bits/weight")


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


class TensorTableModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self._tensors: list[TensorInfo] = []

    def set_tensors(self, tensors: list[TensorInfo]) -> None:
        self.beginResetModel()
        self._tensors = list(tensors)
        self.endResetModel()

    def tensor(self, row: int) -> TensorInfo:
        return self._tensors[row]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802,B008
        return 0 if parent.isValid() else len(self._tensors)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802,B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        t = self._tensors[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (t.name, " × ".join(str(d) for d in t.shape), t.type_name,
                    human_bytes(t.n_bytes), f"{t.bits_per_weight:.2f}")[column]
        if role == SORT_ROLE:
            return (t.name, t.n_elements, t.type_name, t.n_bytes, t.bits_per_weight)[column]
        if role == Qt.ItemDataRole.TextAlignmentRole and column >= 3:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return (f"{t.name}: {t.n_elements:,} values in {t.n_bytes:,} bytes ({t.type_name}); "
                    "click to see their histogram")
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None


def filtered(model: TensorTableModel) -> QSortFilterProxyModel:
    """Sorted by number where a column is a number; the filter matches name or type."""
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    proxy.setFilterKeyColumn(-1)
    proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    return proxy
