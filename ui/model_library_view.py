"""The installed models as a table: what each file is, how big, and whether it can chat."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from core.models.bundled import DEMO_NOTE
from core.models.metadata import format_bytes, format_parameters

if TYPE_CHECKING:
    from core.api import ModelEntry

COLUMNS = ("Name", "Source", "Architecture", "Params", "Quant", "Size", "Context", "Licence",
           "Template")
NAME, SOURCE, ARCH, PARAMS, QUANT, SIZE, CONTEXT, LICENCE, TEMPLATE = range(len(COLUMNS))
_NAME_ROLE = Qt.ItemDataRole.UserRole
_MAX_COLUMN_PX = 360
_NOTE_TIPS = {DEMO_NOTE: "Fast, so good for seeing how a model works, but its answers "
                                 "are often wrong: download a starter model (Download tab) for "
                                 "answers you can use."}


def display_name(entry: ModelEntry) -> str:
    """The name shown for a model; the default model carries a star."""
    return f"★ {entry.name}" if entry.is_default else entry.name


def display_source(entry: ModelEntry) -> str:
    """Where the model came from, and what a bundled one is for: "bundled · tiny demo model"
    (beside the name, so a long name never elides the note away)."""
    return f"{entry.source} · {entry.note}" if entry.note else entry.source


class ModelLibraryView(QTableWidget):
    """Rows of ModelEntry; the selection is read by name (names are unique in the library)."""

    def __init__(self) -> None:
        super().__init__(0, len(COLUMNS))
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)  # long names elide (the tooltip has them whole)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setMinimumSectionSize(48)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # Names are read first: whole (up to a very long one), the table scrolls sideways
        # instead when the tab is narrow; the last column takes what room is left.
        header.setMaximumSectionSize(_MAX_COLUMN_PX)
        header.setStretchLastSection(True)
        self._entries: dict[str, ModelEntry] = {}

    def set_models(self, entries: Sequence[ModelEntry]) -> None:
        """Show `entries`, keeping the selected model selected."""
        selected = self.selected_name()
        self._entries = {e.name: e for e in entries}
        self.setSortingEnabled(False)
        self.setRowCount(len(entries))
        for row, entry in enumerate(entries):
            self._fill(row, entry)
        names = [e.name for e in entries]
        if selected in names:
            self.selectRow(names.index(selected))
        elif entries:
            self.selectRow(0)

    def _fill(self, row: int, entry: ModelEntry) -> None:
        f = entry.facts
        template = "chat" if f.has_chat_template else "none (plain text)"
        values = (display_name(entry), display_source(entry), f.architecture,
                  format_parameters(f.parameter_count), f.quantization,
                  format_bytes(f.file_size),
                  f"{f.context_length:,}" if f.context_length else "unknown",
                  f.license or "not stated", template)
        headers = ("", "", "", "parameters", "quantization", "file size", "trained context",
                   "licence", "chat template")
        for column, text in enumerate(values):
            item = QTableWidgetItem(text)
            item.setData(_NAME_ROLE, entry.name)
            item.setToolTip(entry.path if column == NAME else
                            f"{headers[column]}: {text}" if headers[column] else text)
            if column in (PARAMS, SIZE, CONTEXT):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.setItem(row, column, item)
        name = self.item(row, NAME)
        if entry.is_default:
            font = QFont(name.font())
            font.setBold(True)
            name.setFont(font)
        if entry.missing:
            name.setText(f"{display_name(entry)} (file missing)")
            for column in range(self.columnCount()):
                self.item(row, column).setForeground(self.palette().placeholderText())
        if f.display_name:
            name.setToolTip(f"{f.display_name}\n{entry.path}")
        if entry.note:
            tip = (f"{entry.name}: a {entry.note}, shipped with Glassbox. "
                   f"{_NOTE_TIPS.get(entry.note, '')}").strip()
            name.setToolTip(f"{tip}\n{entry.path}")
            self.item(row, SOURCE).setToolTip(tip)

    def selected_name(self) -> str | None:
        rows = self.selectionModel().selectedRows() if self.selectionModel() else []
        if not rows:
            return None
        return str(self.item(rows[0].row(), NAME).data(_NAME_ROLE))

    def selected_entry(self) -> ModelEntry | None:
        name = self.selected_name()
        return self._entries.get(name) if name is not None else None

    def select_name(self, name: str) -> None:
        for row in range(self.rowCount()):
            if self.item(row, NAME).data(_NAME_ROLE) == name:
                self.selectRow(row)
                return

    def names(self) -> list[str]:
        return [str(self.item(r, NAME).data(_NAME_ROLE)) for r in range(self.rowCount())]

    def entry(self, name: str) -> ModelEntry | None:
        return self._entries.get(name)
