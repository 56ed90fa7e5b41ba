"""A short list of good small chat models, each one click from downloading."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
)

if TYPE_CHECKING:
    from core.models.starter import StarterModel

_COLUMNS = ("Model", "Parameters", "Download size", "Licence", "")


class StarterModelsView(QTableWidget):
    download_requested = Signal(str, str)  # repo id, file name

    def __init__(self) -> None:
        super().__init__(0, len(_COLUMNS))
        self.setHorizontalHeaderLabels(_COLUMNS)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setShowGrid(False)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.buttons: list[QPushButton] = []

    def set_models(self, models: Sequence[StarterModel]) -> None:
        self.setRowCount(len(models))
        self.buttons = []
        for row, model in enumerate(models):
            title = QTableWidgetItem(model.title)
            title.setToolTip(f"{model.note}\n{model.repo_id} · {model.filename}")
            self.setItem(row, 0, title)
            for column, text in enumerate((model.parameters, model.approx_size,
                                           model.license), start=1):
                self.setItem(row, column, QTableWidgetItem(text))
            button = QPushButton("Download")
            button.setToolTip(f"Download {model.filename} from {model.repo_id}")
            button.clicked.connect(
                lambda _=False, m=model: self.download_requested.emit(m.repo_id, m.filename))
            self.setCellWidget(row, 4, button)
            self.buttons.append(button)
