"""The documents of one collection: a table model over DocumentInfo rows and its view."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

if TYPE_CHECKING:  # numpy and SQLite stay off the start path: only types are needed
    from core.api import DocumentInfo


# Status sits next to Problem, so a failure reads "Failed  the PDF is damaged…" in one glance.
# The summary comes last: one elided line here, the whole text in the Name cell's tooltip.
COLUMNS = ("Name", "Folder", "Kind", "Passages", "Status", "Problem", "Summary")
NAME, FOLDER, KIND, PASSAGES, STATUS, PROBLEM, SUMMARY = range(len(COLUMNS))
_TIP_WIDTH = 72  # characters a tooltip line holds: Qt does not wrap plain-text tooltips
PATH_ROLE = Qt.ItemDataRole.UserRole

_KINDS = {".pdf": "PDF", ".md": "Markdown", ".markdown": "Markdown", ".html": "HTML",
          ".htm": "HTML", ".xhtml": "HTML", ".txt": "Text", ".text": "Text",
          ".rst": "reStructuredText", ".docx": "Word"}
_STATUS_TEXT = {"pending": "Waiting", "indexed": "Indexed", "failed": "Failed"}
_FAILED = QColor("#d9382c")

Index = QModelIndex | QPersistentModelIndex


def kind_of(path: str) -> str:
    suffix = PurePath(path).suffix.lower()
    return _KINDS.get(suffix, suffix.lstrip(".").upper() or "—")


class DocumentTableModel(QAbstractTableModel):
    """Rows are DocumentInfo, in the order given; `active` marks the file being indexed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[DocumentInfo] = []
        self.active: str | None = None
        self._summaries: dict[str, str] = {}  # path -> summary

    def set_documents(self, documents: Sequence[DocumentInfo]) -> None:
        documents = list(documents)
        if [d.path for d in documents] == [d.path for d in self._rows]:
            # Same files (the usual refresh during indexing): update in place, so the
            # selection and the scroll position stay where the user left them.
            self._rows = documents
            if documents:
                self.dataChanged.emit(self.index(0, 0),
                                      self.index(len(documents) - 1, len(COLUMNS) - 1))
            return
        self.beginResetModel()
        self._rows = documents
        self.endResetModel()

    def set_active(self, path: str | None) -> None:
        if path == self.active:
            return
        rows = [r for r, d in enumerate(self._rows) if d.path in (path, self.active)]
        self.active = path
        for row in rows:
            self.dataChanged.emit(self.index(row, STATUS), self.index(row, STATUS))

    def set_summaries(self, summaries: dict[str, str]) -> None:
        """All of the collection's summaries (path -> text), replacing those shown."""
        self._summaries = dict(summaries)
        self._summaries_changed()

    def add_summary(self, path: str, summary: str) -> None:
        """One summary just written (the table fills in while a run goes on)."""
        self._summaries[path] = summary
        self._summaries_changed()

    def summaries(self) -> dict[str, str]:
        return dict(self._summaries)

    def _summaries_changed(self) -> None:
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, SUMMARY))

    def documents(self) -> list[DocumentInfo]:
        return list(self._rows)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.TextAlignmentRole and section == PASSAGES:
            return Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        doc = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(doc, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if doc.status == "failed":
                return f"{doc.path}\n\nCould not be indexed: {doc.error or 'unknown reason'}"
            summary = self._summaries.get(doc.path)
            if summary and column in (NAME, SUMMARY):
                return f"{doc.path}\n\n{textwrap.fill(' '.join(summary.split()), _TIP_WIDTH)}"
            return doc.path
        if role == Qt.ItemDataRole.ForegroundRole and doc.status == "failed" \
                and column in (STATUS, PROBLEM):
            return _FAILED
        if role == Qt.ItemDataRole.ForegroundRole and ((
                doc.status == "pending" and column == STATUS and doc.path != self.active)
                or (column == SUMMARY and doc.path not in self._summaries)):
            return QGuiApplication.palette().color(QPalette.ColorGroup.Disabled,
                                                   QPalette.ColorRole.Text)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == PASSAGES:
            return Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        if role == PATH_ROLE:
            return doc.path
        return None

    def _text(self, doc: DocumentInfo, column: int) -> str:
        path = PurePath(doc.path)
        if column == NAME:
            return path.name
        if column == FOLDER:
            return _home_relative(str(path.parent))
        if column == KIND:
            return kind_of(doc.path)
        if column == STATUS:
            return "Indexing…" if doc.path == self.active else _STATUS_TEXT.get(doc.status,
                                                                                doc.status)
        if column == PASSAGES:
            return f"{doc.chunks:,}" if doc.status == "indexed" else "—"
        if column == SUMMARY:
            summary = self._summaries.get(doc.path)
            return " ".join(summary.split()) if summary else "—"
        return doc.error or "" if doc.status == "failed" else ""


def _home_relative(folder: str) -> str:
    """~/notes rather than /home/ana/notes: the part that tells folders apart stays visible."""
    home = os.path.expanduser("~")
    if home not in ("", "/", "~") and (folder == home or folder.startswith(home + os.sep)):
        return "~" + folder[len(home):]
    return folder


class _MiddleElide(QStyledItemDelegate):
    """Paths differ at both ends, so the middle of a long folder is what gets cut."""

    def initStyleOption(self, option: QStyleOptionViewItem,  # noqa: N802 (Qt override)
                        index: Index) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle


class _RightPadded(QStyledItemDelegate):
    """Right-aligned numbers with room before the next column's left-aligned text."""

    PADDING = 14

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        text, opt.text = opt.text, ""
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        opt.text = text
        opt.rect = opt.rect.adjusted(0, 0, -self.PADDING, 0)
        opt.state &= ~QStyle.StateFlag.State_HasFocus  # the focus frame is drawn already
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)


class DocumentTableView(QTableView):
    """Keeps the selected files selected when the rows are replaced."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table_model = DocumentTableModel(self)
        self.setModel(self.table_model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setItemDelegateForColumn(FOLDER, _MiddleElide(self))
        self.setItemDelegateForColumn(PASSAGES, _RightPadded(self))
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(SUMMARY, QHeaderView.ResizeMode.Stretch)
        width = self.fontMetrics().horizontalAdvance
        for column, sample in ((NAME, "a-fairly-long-name.pdf"), (FOLDER, "/home/user/folder"),
                               (KIND, "Markdown"), (PASSAGES, "Passages"), (STATUS, "Indexing…"),
                               (PROBLEM, "the file is damaged")):
            self.setColumnWidth(column, width(sample) + 28)
        self.setColumnWidth(PASSAGES, self.columnWidth(PASSAGES) + _RightPadded.PADDING)

    def set_documents(self, documents: Sequence[DocumentInfo]) -> None:
        keep = set(self.selected_paths())
        self.table_model.set_documents(documents)
        # An empty Problem column would take the width the summaries need.
        self.setColumnHidden(PROBLEM, not any(d.status == "failed" for d in documents))
        if keep and not self.selected_paths():
            self.select_paths(keep)

    def selected_paths(self) -> list[str]:
        rows = sorted(i.row() for i in self.selectionModel().selectedRows())
        docs = self.table_model.documents()
        return [docs[r].path for r in rows if r < len(docs)]

    def select_paths(self, paths: set[str] | Sequence[str]) -> None:
        wanted = set(paths)
        selection = self.selectionModel()
        selection.clearSelection()
        for row, doc in enumerate(self.table_model.documents()):
            if doc.path in wanted:
                selection.select(self.table_model.index(row, 0),
                                 selection.SelectionFlag.Select
                                 | selection.SelectionFlag.Rows)

    def paths(self) -> list[str]:
        return [d.path for d in self.table_model.documents()]

    def summary_tip(self, name: str) -> str:
        """The tooltip of a file's Name cell (tests and the screenshot check read this)."""
        for row, doc in enumerate(self.table_model.documents()):
            if PurePath(doc.path).name == name:
                return str(self.table_model.data(self.table_model.index(row, NAME),
                                                 Qt.ItemDataRole.ToolTipRole))
        return ""

    def statuses(self) -> dict[str, str]:
        """File name -> status as shown (tests and the screenshot check read this)."""
        return {PurePath(d.path).name: d.status for d in self.table_model.documents()}
