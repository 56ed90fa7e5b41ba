"""Search the hub for GGUF repositories, list one's files, pick one to download."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.models.metadata import format_bytes

if TYPE_CHECKING:
    from core.models.hub import HubFile, HubModel, HubRepo

RECOMMENDED = "★ recommended"
_RECOMMENDED_TIP = "The best quality that fits this computer's memory"
_DATA = Qt.ItemDataRole.UserRole


def _table(headers: Sequence[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setShowGrid(False)
    table.setWordWrap(False)  # long file names elide in the middle, where they differ least
    table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
    table.verticalHeader().hide()
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    return table


def _item(text: str, data: object = None, right: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setData(_DATA, data)
    item.setToolTip(text)
    if right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


class HubSearchView(QWidget):
    search_requested = Signal(str)
    repo_selected = Signal(str)
    download_requested = Signal(str, str)  # repo id, file name

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.query = QLineEdit()
        self.query.setPlaceholderText("Search Hugging Face for GGUF models, e.g. qwen2.5 0.5b")
        self.query.setClearButtonEnabled(True)
        self.search_button = QPushButton("Search")
        self.state = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.results = _table(("Repository", "Downloads", "Likes"))
        self.files = _table(("File", "Quantization", "Size", ""))
        self.repo_label = QLabel(textFormat=Qt.TextFormat.PlainText)
        self.download_button = QPushButton("Download")
        self.download_button.setEnabled(False)
        self._repo: HubRepo | None = None
        row = QHBoxLayout()
        row.addWidget(self.query, 1)
        row.addWidget(self.search_button)
        files_box = QWidget()
        files_column = QVBoxLayout(files_box)
        files_column.setContentsMargins(0, 0, 0, 0)
        files_column.addWidget(self.repo_label)
        files_column.addWidget(self.files, 1)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.download_button)
        files_column.addLayout(bottom)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.results)
        splitter.addWidget(files_box)
        splitter.setSizes([340, 520])
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.state)
        layout.addWidget(splitter, 1)
        self.state.hide()
        self.query.returnPressed.connect(self.search)
        self.search_button.clicked.connect(self.search)
        self.results.itemSelectionChanged.connect(self._on_repo_selected)
        self.files.itemSelectionChanged.connect(self._update_button)
        self.files.itemDoubleClicked.connect(lambda _item: self.download_selected())
        self.download_button.clicked.connect(self.download_selected)

    # -- intents ----------------------------------------------------------------------------
    def search(self) -> None:
        self.set_state("Searching…")
        self.search_requested.emit(self.query.text().strip())

    def download_selected(self) -> None:
        chosen = self.selected_file()
        if self._repo is not None and chosen is not None:
            self.download_requested.emit(self._repo.repo_id, chosen.filename)

    # -- what the controller calls ----------------------------------------------------------
    def set_state(self, text: str) -> None:
        self.state.setText(text)
        self.state.setVisible(bool(text))

    def set_results(self, query: str, models: Sequence[HubModel]) -> None:
        self.set_state("" if models else f"No GGUF repositories match “{query}”.")
        self.results.setRowCount(len(models))
        for row, model in enumerate(models):
            name = model.repo_id + (" (gated)" if model.gated else "")
            self.results.setItem(row, 0, _item(name, model.repo_id))
            self.results.setItem(row, 1, _item(f"{model.downloads or 0:,}", right=True))
            self.results.setItem(row, 2, _item(f"{model.likes or 0:,}", right=True))

    def set_repo(self, repo: HubRepo) -> None:
        self._repo = repo
        self.set_state("")
        licence = f" · licence {repo.license}" if repo.license else ""
        self.repo_label.setText(f"{repo.repo_id}: {len(repo.files)} GGUF files{licence}")
        self.files.setRowCount(len(repo.files))
        best = 0
        for row, f in enumerate(repo.files):
            note = RECOMMENDED if f.recommended else (
                f"split in {f.parts} files" if f.parts > 1 else
                "vision projector" if f.is_projector else "")
            self.files.setItem(row, 0, _item(f.filename, f))
            self.files.setItem(row, 1, _item(f.quantization or "unknown"))
            self.files.setItem(row, 2, _item(format_bytes(f.size), right=True))
            self.files.setItem(row, 3, _item(note))
            if f.recommended:
                self.files.item(row, 3).setToolTip(_RECOMMENDED_TIP)
                best = row
                for column in range(4):
                    font = self.files.item(row, column).font()
                    font.setBold(True)
                    self.files.item(row, column).setFont(font)
        if repo.files:
            self.files.selectRow(best)
        self._update_button()

    def selected_file(self) -> HubFile | None:
        rows = self.files.selectionModel().selectedRows()
        if not rows:
            return None
        data = self.files.item(rows[0].row(), 0).data(_DATA)
        return data  # type: ignore[no-any-return]

    def recommended_row(self) -> int | None:
        for row in range(self.files.rowCount()):
            if self.files.item(row, 3).text() == RECOMMENDED:
                return row
        return None

    def select_repo(self, repo_id: str) -> None:
        for row in range(self.results.rowCount()):
            if self.results.item(row, 0).data(_DATA) == repo_id:
                self.results.selectRow(row)
                return

    # -- internals --------------------------------------------------------------------------
    def _on_repo_selected(self) -> None:
        rows = self.results.selectionModel().selectedRows()
        if not rows:
            return
        repo_id = str(self.results.item(rows[0].row(), 0).data(_DATA))
        self._repo = None
        self.files.setRowCount(0)
        self.repo_label.setText(f"Listing {repo_id}…")
        self._update_button()
        self.repo_selected.emit(repo_id)

    def _update_button(self) -> None:
        chosen = self.selected_file()
        self.download_button.setEnabled(chosen is not None and chosen.parts == 1)
