"""The list of collections: each row shows its name and, below, what it holds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

if TYPE_CHECKING:  # numpy and SQLite stay off the start path: only types are needed
    from core.api import CollectionInfo


_NAME_ROLE = Qt.ItemDataRole.UserRole
_SUMMARY_ROLE = Qt.ItemDataRole.UserRole + 1
_PROBLEM_ROLE = Qt.ItemDataRole.UserRole + 2
_FAILED = QColor("#d9382c")


def summary_of(info: CollectionInfo) -> tuple[str, str]:
    """("12 documents · 340 passages", "2 failed · 3 waiting") for the second line."""
    noun = "document" if info.documents == 1 else "documents"
    summary = f"{info.documents:,} {noun} · {info.chunks:,} passages"
    problems = []
    if info.failed:
        problems.append(f"{info.failed:,} failed")
    if info.pending:
        problems.append(f"{info.pending:,} waiting")
    return summary, " · ".join(problems)


class _CollectionDelegate(QStyledItemDelegate):
    """Draws the name in bold and the counts under it, failures in the warning color."""

    def sizeHint(self, option: QStyleOptionViewItem,  # noqa: N802 (Qt override)
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(0, option.fontMetrics.height() * 2 + 16)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""  # the background and selection only; the text is drawn below
        widget = opt.widget
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        palette = opt.palette
        text_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        text = palette.color(text_role)
        muted = text if selected else palette.color(QPalette.ColorGroup.Disabled,
                                                    QPalette.ColorRole.Text)
        rect = opt.rect.adjusted(10, 7, -10, -7)
        line = opt.fontMetrics.height()
        painter.save()
        bold = QFont(opt.font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(text)
        name = str(index.data(_NAME_ROLE) or "")
        painter.drawText(QRect(rect.left(), rect.top(), rect.width(), line),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(name, Qt.TextElideMode.ElideRight,
                                                          rect.width()))
        painter.setFont(opt.font)
        metrics = opt.fontMetrics
        summary = str(index.data(_SUMMARY_ROLE) or "")
        problem = str(index.data(_PROBLEM_ROLE) or "")
        second = QRect(rect.left(), rect.top() + line + 2, rect.width(), line)
        painter.setPen(muted)
        lead = summary + " · " if problem else summary
        shown = metrics.elidedText(lead, Qt.TextElideMode.ElideRight, second.width())
        painter.drawText(second, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         shown)
        if problem and shown == lead:
            offset = metrics.horizontalAdvance(lead)
            rest = second.adjusted(offset, 0, 0, 0)
            # On the selection color red would be hard to read: bold text says it there.
            painter.setPen(text if selected else _FAILED)
            if selected:
                painter.setFont(bold)
            painter.drawText(rest, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             painter.fontMetrics().elidedText(
                                 problem, Qt.TextElideMode.ElideRight, rest.width()))
        painter.restore()


class CollectionListView(QListWidget):
    """Rows of collections; selecting one emits `collection_selected(name)`."""

    collection_selected = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setItemDelegate(_CollectionDelegate(self))
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setUniformItemSizes(True)
        self.currentItemChanged.connect(self._on_current_changed)

    def set_collections(self, collections: Sequence[CollectionInfo],
                        current: str | None) -> None:
        """Replace the rows without emitting collection_selected."""
        self.blockSignals(True)
        try:
            self.clear()
            for info in collections:
                summary, problem = summary_of(info)
                item = QListWidgetItem(info.name)
                item.setData(_NAME_ROLE, info.name)
                item.setData(_SUMMARY_ROLE, summary)
                item.setData(_PROBLEM_ROLE, problem)
                item.setToolTip(f"{info.name}\n{summary}" + (f" · {problem}" if problem else ""))
                self.addItem(item)
                if info.name == current:
                    self.setCurrentItem(item)
        finally:
            self.blockSignals(False)

    def current_name(self) -> str | None:
        item = self.currentItem()
        return str(item.data(_NAME_ROLE)) if item is not None else None

    def names(self) -> list[str]:
        return [str(self.item(i).data(_NAME_ROLE)) for i in range(self.count())]

    def summaries(self) -> list[str]:
        """The second line of each row as shown (tests read this)."""
        rows = []
        for i in range(self.count()):
            item = self.item(i)
            summary, problem = item.data(_SUMMARY_ROLE), item.data(_PROBLEM_ROLE)
            rows.append(f"{summary} · {problem}" if problem else str(summary))
        return rows

    def select_name(self, name: str) -> None:
        for i in range(self.count()):
            if self.item(i).data(_NAME_ROLE) == name:
                self.setCurrentRow(i)
                return

    def _on_current_changed(self, current: QListWidgetItem | None, _previous: object) -> None:
        if current is not None:
            self.collection_selected.emit(str(current.data(_NAME_ROLE)))
