"""The preset library: pick, edit and save personas and few-shot sets, fill their variables,
and apply one to the open chat or start a new chat from it."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.prompts.presets import KINDS, Example, Preset

_HEADINGS = {"persona": "Personas", "few-shot": "Few-shot sets", "style": "Styles"}
_KIND_LABELS = {"persona": "Persona", "few-shot": "Few-shot set", "style": "Style"}
_INDEX_ROLE = Qt.ItemDataRole.UserRole


class PresetsDialog(QDialog):
    """Shows presets it is given; saving, deleting and applying are asked for by signal."""

    save_requested = Signal(object, str)  # Preset, the name it had ("" for a new one)
    delete_requested = Signal(str)
    apply_requested = Signal(object, dict, bool)  # Preset, variable values, in a new chat

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Prompt presets")
        self.setObjectName("presetsDialog")
        self.resize(920, 620)
        self._presets: list[Preset] = []
        self._editing_name = ""
        self._defaults: dict[str, str] = {}
        self.preset_list = QListWidget()
        self.new_button = QPushButton("New")
        self.delete_button = QPushButton("Delete")
        self.name_edit = QLineEdit()
        self.kind_combo = QComboBox()
        for kind in KINDS:
            self.kind_combo.addItem(_KIND_LABELS[kind], kind)
        self.description_edit = QLineEdit()
        self.system_edit = QPlainTextEdit()
        self.system_edit.setPlaceholderText("The system prompt. Use {topic}-style variables for "
                                            "what changes each time.")
        line = QFontMetrics(self.system_edit.font()).lineSpacing()
        self.system_edit.setFixedHeight(line * 5 + 16)
        self.examples = QTableWidget(0, 2)
        self.examples.setHorizontalHeaderLabels(["User says", "Assistant answers"])
        self.examples.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.examples.verticalHeader().setVisible(False)
        self.examples.setWordWrap(True)
        self.examples.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.add_example_button = QPushButton("Add example")
        self.remove_example_button = QPushButton("Remove example")
        self.variables_box = QGroupBox("Variables")
        self._variables_form = QFormLayout(self.variables_box)
        self.variable_edits: dict[str, QLineEdit] = {}
        self.message_label = QLabel(wordWrap=True)
        self.save_button = QPushButton("Save preset")
        self.apply_button = QPushButton("Apply to this chat")
        self.apply_button.setToolTip("Use the system prompt in the open chat and add the "
                                     "examples as its next turns")
        self.new_chat_button = QPushButton("New chat from preset")
        self.new_chat_button.setDefault(True)
        self._build_layout()
        self._connect()
        self._show(None)

    def _build_layout(self) -> None:
        left = QWidget()
        side = QVBoxLayout(left)
        side.setContentsMargins(0, 0, 0, 0)
        side.addWidget(self.preset_list, 1)
        side_buttons = QHBoxLayout()
        side_buttons.addWidget(self.new_button)
        side_buttons.addWidget(self.delete_button)
        side.addLayout(side_buttons)
        form = QFormLayout()
        form.addRow("Name", self.name_edit)
        form.addRow("Kind", self.kind_combo)
        form.addRow("Description", self.description_edit)
        form.addRow("System prompt", self.system_edit)
        example_buttons = QHBoxLayout()
        example_buttons.addWidget(QLabel("Few-shot examples, in order:"))
        example_buttons.addStretch(1)
        example_buttons.addWidget(self.add_example_button)
        example_buttons.addWidget(self.remove_example_button)
        right = QWidget()
        editor = QVBoxLayout(right)
        editor.setContentsMargins(0, 0, 0, 0)
        editor.addLayout(form)
        editor.addLayout(example_buttons)
        editor.addWidget(self.examples, 1)
        editor.addWidget(self.variables_box)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([220, 700])
        splitter.setChildrenCollapsible(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.message_label, 1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.apply_button)
        buttons.addWidget(self.new_chat_button)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)

    def _connect(self) -> None:
        self.preset_list.currentRowChanged.connect(self._on_row_changed)
        self.new_button.clicked.connect(lambda: self._show(None))
        self.delete_button.clicked.connect(self._on_delete)
        self.add_example_button.clicked.connect(lambda: self._add_example_row("", ""))
        self.remove_example_button.clicked.connect(self._on_remove_example)
        self.save_button.clicked.connect(self._on_save)
        self.apply_button.clicked.connect(lambda: self._on_apply(new_chat=False))
        self.new_chat_button.clicked.connect(lambda: self._on_apply(new_chat=True))
        self.system_edit.textChanged.connect(self._refresh_variables)
        self.examples.itemChanged.connect(lambda _item: self._refresh_variables())

    # -- what the controller calls ----------------------------------------------------------
    def set_presets(self, presets: Sequence[Preset], select: str | None = None) -> None:
        """Show the library; keep (or move to) the preset named `select`."""
        keep = select or self._editing_name
        self._presets = list(presets)
        self.preset_list.blockSignals(True)
        self.preset_list.clear()
        kind = None
        for index, preset in enumerate(self._presets):
            if preset.kind != kind:  # a heading before each kind (the list comes sorted)
                kind = preset.kind
                heading = QListWidgetItem(_HEADINGS[kind])
                heading.setFlags(Qt.ItemFlag.NoItemFlags)
                font = heading.font()
                font.setBold(True)
                heading.setFont(font)
                self.preset_list.addItem(heading)
            item = QListWidgetItem("   " + preset.name)
            item.setData(_INDEX_ROLE, index)
            item.setToolTip(preset.description)
            self.preset_list.addItem(item)
        names = [p.name for p in self._presets]
        index = names.index(keep) if keep in names else (0 if self._presets else -1)
        self._select_index(index)  # signals blocked: a message shown stays
        self.preset_list.blockSignals(False)
        self._show(self._presets[index] if index >= 0 else None)

    def _select_index(self, index: int) -> None:
        for row in range(self.preset_list.count()):
            if self.preset_list.item(row).data(_INDEX_ROLE) == index:
                self.preset_list.setCurrentRow(row)
                return
        self.preset_list.setCurrentRow(-1)

    def show_message(self, text: str, error: bool = False) -> None:
        self.message_label.setText(text)
        self.message_label.setStyleSheet("color: palette(highlight);" if not error
                                         else "color: #c0281e;")

    def set_can_apply(self, can: bool) -> None:
        self.apply_button.setEnabled(can)

    def select(self, name: str) -> None:
        names = [p.name for p in self._presets]
        if name in names:
            self._select_index(names.index(name))

    # -- the form ---------------------------------------------------------------------------
    def current_preset(self) -> Preset:
        """The preset as the form shows it now (saved or not)."""
        examples = []
        for row in range(self.examples.rowCount()):
            user, answer = (self._cell(row, 0), self._cell(row, 1))
            if user.strip() or answer.strip():
                examples.append(Example(user, answer))
        defaults = {name: edit.placeholderText().removeprefix("default: ")
                    for name, edit in self.variable_edits.items()
                    if edit.placeholderText().startswith("default: ")}
        return Preset(self.name_edit.text().strip(), str(self.kind_combo.currentData()),
                      self.description_edit.text().strip(), self.system_edit.toPlainText(),
                      tuple(examples), defaults)

    def values(self) -> dict[str, str]:
        return {name: edit.text() for name, edit in self.variable_edits.items()
                if edit.text().strip()}

    def _cell(self, row: int, column: int) -> str:
        item = self.examples.item(row, column)
        return item.text() if item is not None else ""

    def _show(self, preset: Preset | None) -> None:
        self._editing_name = preset.name if preset else ""
        self._defaults = dict(preset.defaults) if preset else {}
        self.name_edit.setText(preset.name if preset else "")
        self.kind_combo.setCurrentIndex(max(self.kind_combo.findData(
            preset.kind if preset else "persona"), 0))
        self.description_edit.setText(preset.description if preset else "")
        self.examples.blockSignals(True)
        self.examples.setRowCount(0)
        for example in preset.examples if preset else ():
            self._add_example_row(example.user, example.assistant)
        self.examples.blockSignals(False)
        self.system_edit.setPlainText(preset.system_prompt if preset else "")
        self.delete_button.setEnabled(preset is not None)
        self._refresh_variables()
        if preset is None:
            self.preset_list.setCurrentRow(-1)
            self.name_edit.setFocus()

    def _add_example_row(self, user: str, answer: str) -> None:
        row = self.examples.rowCount()
        self.examples.insertRow(row)
        self.examples.setItem(row, 0, QTableWidgetItem(user))
        self.examples.setItem(row, 1, QTableWidgetItem(answer))

    def _refresh_variables(self) -> None:
        typed = {name: edit.text() for name, edit in self.variable_edits.items()}
        while self._variables_form.rowCount():
            self._variables_form.removeRow(0)
        self.variable_edits = {}
        names = Preset("form", system_prompt=self.system_edit.toPlainText(),
                       examples=tuple(Example(self._cell(r, 0), self._cell(r, 1))
                                      for r in range(self.examples.rowCount()))).variables()
        for name in names:
            edit = QLineEdit(typed.get(name, ""))
            default = self._defaults.get(name)
            edit.setPlaceholderText(f"default: {default}" if default else "required")
            self._variables_form.addRow("{" + name + "}", edit)
            self.variable_edits[name] = edit
        self.variables_box.setVisible(bool(names))

    # -- user actions -----------------------------------------------------------------------
    def _on_row_changed(self, row: int) -> None:
        item = self.preset_list.item(row)
        index = item.data(_INDEX_ROLE) if item is not None else None
        if isinstance(index, int) and 0 <= index < len(self._presets):
            self._show(self._presets[index])
            self.show_message("")

    def _on_save(self) -> None:
        preset = self.current_preset()
        if not preset.name:
            self.show_message("Give the preset a name before saving it.", error=True)
            return
        self.save_requested.emit(preset, self._editing_name)
        self._editing_name = preset.name

    def _on_delete(self) -> None:
        if self._editing_name:
            self.delete_requested.emit(self._editing_name)
            self._editing_name = ""

    def _on_remove_example(self) -> None:
        rows = sorted({i.row() for i in self.examples.selectedIndexes()}, reverse=True)
        for row in rows or [self.examples.rowCount() - 1]:
            if row >= 0:
                self.examples.removeRow(row)
        self._refresh_variables()

    def _on_apply(self, new_chat: bool) -> None:
        preset = self.current_preset()
        self.apply_requested.emit(replace_name(preset), self.values(), new_chat)


def replace_name(preset: Preset) -> Preset:
    """An unsaved, unnamed preset can still be applied: it gets a placeholder name."""
    if preset.name:
        return preset
    return Preset("Unsaved preset", preset.kind, preset.description, preset.system_prompt,
                  preset.examples, preset.defaults)
