"""*Find models on this computer*: what Ollama, LM Studio, GPT4All and Jan (and folders the user
adds) already downloaded, with each file's facts; the ticked ones are added where they are.

A view only: the scan and the registering run on a worker; this dialog asks through signals
and shows what comes back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.models.metadata import format_bytes, format_parameters
from ui.theme import mark_secondary

if TYPE_CHECKING:
    from core.models.scan import FoundModel, ScanResult

COLUMNS = ("Name", "From", "Architecture", "Params", "Quant", "Size", "In library", "File")
NAME, APP, ARCH, PARAMS, QUANT, SIZE, LIBRARY, FILE = range(len(COLUMNS))


class ModelScanDialog(QDialog):
    scan_requested = Signal(list)  # folders the user added (str), besides the apps' folders
    register_requested = Signal(list)  # list[FoundModel]

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Find models on this computer")
        self.folders: list[str] = []
        self._found: list[FoundModel] = []
        self.status = QLabel("Looking in the folders of Ollama, LM Studio, GPT4All and Jan…")
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setMaximumSectionSize(320)
        header.setStretchLastSection(True)
        self.skipped = QPlainTextEdit()
        self.skipped.setReadOnly(True)
        self.skipped.setMaximumHeight(90)
        self.skipped.hide()
        self.add_folder_button = QPushButton("Add folder…")
        self.add_folder_button.setToolTip("Also search a folder of your own (and the folders "
                                          "below it) for .gguf files")
        self.rescan_button = QPushButton("Search again")
        self.register_button = QPushButton("Add ticked models")
        self.register_button.setToolTip("They stay where they are (no copy): if the other app "
                                        "deletes one, the library shows it as missing")
        self.register_button.setDefault(True)
        self.close_button = QPushButton("Close")
        note = QLabel("Ticked models are added where they are, without copying. Files are "
                      "checked before they are listed.")
        note.setWordWrap(True)
        mark_secondary(note)
        bar = QHBoxLayout()
        bar.addWidget(self.add_folder_button)
        bar.addWidget(self.rescan_button)
        bar.addStretch(1)
        bar.addWidget(self.register_button)
        bar.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.skipped)
        layout.addWidget(note)
        layout.addLayout(bar)
        self.resize(980, 420)
        self.add_folder_button.clicked.connect(self._ask_folder)
        self.rescan_button.clicked.connect(self.request_scan)
        self.register_button.clicked.connect(self._on_register)
        self.close_button.clicked.connect(self.reject)
        self.table.itemChanged.connect(lambda _item: self._update_actions())
        self._update_actions()

    # -- what the controller calls ----------------------------------------------------------
    def request_scan(self) -> None:
        self.set_busy("Looking in the folders of Ollama, LM Studio, GPT4All and Jan"
                      + (f" and {len(self.folders)} of yours" if self.folders else "") + "…")
        self.scan_requested.emit(list(self.folders))

    def set_busy(self, text: str) -> None:
        self.status.setText(text)
        for button in (self.add_folder_button, self.rescan_button, self.register_button):
            button.setEnabled(False)

    def show_progress(self, checked: int, where: str) -> None:
        self.status.setText(f"Looking… {checked} file{'s' * (checked != 1)} checked "
                            f"({where})")

    def set_result(self, result: ScanResult) -> None:
        self._found = list(result.models)
        self.table.blockSignals(True)
        self.table.setRowCount(len(self._found))
        for row, model in enumerate(self._found):
            self._fill(row, model)
        self.table.blockSignals(False)
        new = sum(1 for m in self._found if not m.registered)
        if not self._found:
            looked = sum(1 for s in result.searched if s.exists)
            self.status.setText("No GGUF models found" + (
                f" in the {looked} folder{'s' * (looked != 1)} that exist here." if looked
                else ": none of Ollama, LM Studio, GPT4All or Jan keeps models on this "
                     "computer. Add a folder of your own to search it."))
        else:
            self.status.setText(f"Found {len(self._found)} model"
                                f"{'s' * (len(self._found) != 1)}; {new} not in the "
                                "library yet (ticked).")
        self.skipped.setVisible(bool(result.skipped))
        self.skipped.setPlainText(f"Skipped {len(result.skipped)}:\n"
                                  + "\n".join(s.message for s in result.skipped))
        for button in (self.add_folder_button, self.rescan_button):
            button.setEnabled(True)
        self._update_actions()

    def set_failed(self, message: str) -> None:
        self.status.setText(message)
        for button in (self.add_folder_button, self.rescan_button):
            button.setEnabled(True)
        self._update_actions()

    def set_registered(self, added: Sequence[tuple[FoundModel, str]],
                       failures: Sequence[str]) -> None:
        """After adding: each added model shows its library name; failures are said."""
        names = {model.path: name for model, name in added}
        self._found = [replace(m, registered_as=names.get(m.path, m.registered_as))
                       for m in self._found]
        self.table.blockSignals(True)
        for row, model in enumerate(self._found):
            self._fill(row, model)
        self.table.blockSignals(False)
        where = "used where it is" if len(names) == 1 else "used where they are"
        text = (f"Added {', '.join(names.values())} to the library ({where})."
                if names else "Nothing added.")
        if failures:
            text += " Not added: " + " ".join(failures)
        self.status.setText(text)
        for button in (self.add_folder_button, self.rescan_button):
            button.setEnabled(True)
        self._update_actions()

    def found(self) -> list[FoundModel]:
        return list(self._found)

    def ticked(self) -> list[FoundModel]:
        return [m for row, m in enumerate(self._found)
                if self.table.item(row, NAME).checkState() == Qt.CheckState.Checked]

    def set_ticked(self, name: str, ticked: bool) -> None:
        for row, model in enumerate(self._found):
            if model.name == name:
                self.table.item(row, NAME).setCheckState(
                    Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)

    # -- internals --------------------------------------------------------------------------
    def _fill(self, row: int, model: FoundModel) -> None:
        f = model.facts
        values = (model.name, model.app, f.architecture, format_parameters(f.parameter_count),
                  f.quantization, format_bytes(f.file_size),
                  model.registered_as or "", model.path)
        for column, text in enumerate(values):
            item = QTableWidgetItem(text)
            if column in (PARAMS, SIZE):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if column == NAME:
                # The tick is set before the item goes in, so the column's width counts it.
                also = f"\nAlso known as: {', '.join(model.aliases)}" if model.aliases else ""
                item.setToolTip(f"{model.app}: {model.label}{also}\n{model.path}")
                if model.registered:
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsUserCheckable)
                else:
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    item.setCheckState(Qt.CheckState.Checked)
            elif column == FILE:
                item.setToolTip(model.path)
            elif column == LIBRARY and model.registered:
                item.setToolTip("Already in the library under this name")
            self.table.setItem(row, column, item)

    def _ask_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Search a folder for GGUF models")
        if folder:
            self.add_folder(folder)

    def add_folder(self, folder: str) -> None:
        if folder not in self.folders:
            self.folders.append(folder)
        self.request_scan()

    def _on_register(self) -> None:
        chosen = self.ticked()
        if chosen:
            self.set_busy(f"Adding {len(chosen)} model{'s' * (len(chosen) != 1)}…")
            self.register_requested.emit(chosen)

    def _update_actions(self) -> None:
        busy = not self.rescan_button.isEnabled()
        self.register_button.setEnabled(not busy and bool(self._found) and bool(self.ticked()))
