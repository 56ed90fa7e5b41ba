"""The Models tab's Remote engines page: the saved engines, a form to add one, Remove (asked
inline) and Test connection's steps. A view only: it emits intents with plain values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.inline_confirm_view import InlineConfirmView
from ui.theme import mark_secondary

if TYPE_CHECKING:
    from core.api import CheckStep, EngineConfig

COLUMNS = ("Name", "Address", "Kind", "Model", "Key")
MARKS = {True: "✓", False: "✗", None: "–"}
_KEYRING_NOTE = "A key you type is kept in the system keyring, never in the database."
_FILE_NOTE = ("No system keyring works here: a key you type is kept in a file only you can "
              "read (0600) in Glassbox's folder. Or leave the key empty and name an "
              "environment variable that holds it.")


def key_text(config: EngineConfig) -> str:
    """Where the engine's key lives, in words (never the key)."""
    return config.key.describe()


class EnginesView(QWidget):
    add_requested = Signal(dict)  # name, url, kind, model, api_key, api_key_env
    remove_requested = Signal(str)
    test_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setMaximumHeight(180)  # a few engines; the form and the steps need the room
        self.test_button = QPushButton("Test connection")
        self.remove_button = QPushButton("Remove…")
        self.confirm = InlineConfirmView("Remove")
        self.steps = QLabel(textFormat=Qt.TextFormat.PlainText, wordWrap=True)
        self.steps.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.name_edit = QLineEdit(placeholderText="gpu-box")
        self.url_edit = QLineEdit(placeholderText="http://192.168.1.20:8080/v1")
        self.kind_combo = QComboBox()
        self.kind_combo.addItem("OpenAI-compatible (llama-server, vLLM, LM Studio…)", "openai")
        self.kind_combo.addItem("Ollama", "ollama")
        self.model_edit = QLineEdit(placeholderText="empty: the first model the server lists")
        self.key_edit = QLineEdit(placeholderText="optional")
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.env_edit = QLineEdit(placeholderText="or: the environment variable with the key")
        self.key_note = QLabel(_KEYRING_NOTE, wordWrap=True)
        mark_secondary(self.key_note)
        self.add_button = QPushButton("Add engine")
        self._build_layout()
        self.table.itemSelectionChanged.connect(self._update_actions)
        self.test_button.clicked.connect(self._on_test)
        self.remove_button.clicked.connect(self._on_remove)
        self.confirm.confirmed.connect(self.remove_requested)
        self.add_button.clicked.connect(self._on_add)
        self._update_actions()

    def _build_layout(self) -> None:
        bar = QHBoxLayout()
        bar.addStretch(1)
        bar.addWidget(self.test_button)
        bar.addWidget(self.remove_button)
        form_box = QGroupBox("Add an engine")
        form = QFormLayout(form_box)
        form.addRow("Name:", self.name_edit)
        form.addRow("Address:", self.url_edit)
        form.addRow("Kind:", self.kind_combo)
        form.addRow("Model:", self.model_edit)
        form.addRow("API key:", self.key_edit)
        form.addRow("Key variable:", self.env_edit)
        form.addRow(self.key_note)
        form.addRow(self.add_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        intro = QLabel("Models that run on another machine (a GPU server, several machines "
                       "with llama-server and RPC, vLLM, Ollama or glassbox serve). Their "
                       "models appear in the chat's model list as remote:NAME/MODEL.",
                       wordWrap=True)
        mark_secondary(intro)
        layout.addWidget(intro)
        layout.addLayout(bar)
        layout.addWidget(self.confirm)
        layout.addWidget(self.table)
        test_box = QGroupBox("Test connection")
        QVBoxLayout(test_box).addWidget(self.steps)
        self.steps.setText("Select an engine and press Test connection to see what works.")
        layout.addWidget(test_box)
        layout.addWidget(form_box)
        layout.addStretch(1)

    # -- what the controller calls ----------------------------------------------------------
    def set_engines(self, engines: Sequence[EngineConfig]) -> None:
        chosen = self.selected()
        self.table.setRowCount(len(engines))
        for row, config in enumerate(engines):
            cells = (config.name, config.url, config.kind, config.model or "(first listed)",
                     key_text(config))
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, column, item)
            if config.name == chosen:
                self.table.selectRow(row)
        self.table.resizeColumnsToContents()
        self._update_actions()

    def set_keyring_works(self, works: bool) -> None:
        self.key_note.setText(_KEYRING_NOTE if works else _FILE_NOTE)

    def added(self) -> None:
        """The engine was saved: empty the form (the key above all)."""
        for edit in (self.name_edit, self.url_edit, self.model_edit, self.key_edit,
                     self.env_edit):
            edit.clear()

    def set_testing(self, name: str) -> None:
        self.test_button.setEnabled(False)
        self.steps.setText(f"Testing {name}…")

    def show_steps(self, name: str, steps: Sequence[CheckStep]) -> None:
        lines = [f"{MARKS[s.ok]} {s.name}: {s.detail}" for s in steps]
        self.steps.setText(f"{name}:\n" + "\n".join(lines))
        self._update_actions()

    def show_failed(self, message: str) -> None:
        self.steps.setText(message)
        self._update_actions()

    def selected(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        item = self.table.item(rows[0].row(), 0) if rows else None
        return item.text() if item is not None else None

    def select(self, name: str) -> None:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.text() == name:
                self.table.selectRow(row)

    # -- intents ----------------------------------------------------------------------------
    def _update_actions(self) -> None:
        chosen = self.selected() is not None
        self.test_button.setEnabled(chosen)
        self.remove_button.setEnabled(chosen)

    def _on_test(self) -> None:
        name = self.selected()
        if name:
            self.test_requested.emit(name)

    def _on_remove(self) -> None:
        name = self.selected()
        if name:
            self.confirm.ask(name, f"Remove the engine “{name}” and the key saved for it? "
                             "Nothing on the server changes.")

    def _on_add(self) -> None:
        self.add_requested.emit({
            "name": self.name_edit.text().strip(), "url": self.url_edit.text().strip(),
            "kind": self.kind_combo.currentData(),
            "model": self.model_edit.text().strip() or None,
            "api_key": self.key_edit.text() or None,
            "api_key_env": self.env_edit.text().strip() or None})
