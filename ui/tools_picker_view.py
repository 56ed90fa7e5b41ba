"""The chat's tools: which built-in tools and MCP servers the model may call, the folders the
file tool may read, the tool choice and the step limit. Every tool is off until turned on.

A dialog from the Tools button by the message box; it shows the open chat's settings and
emits them when accepted (the controller stores them with the chat).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.api import ChatTools
from ui.theme import mark_secondary

READ_FILE = "read_file"  # the built-in tool that reads inside the allowed folders
CHOICES = (("auto", "the model decides (auto)"), ("required", "must call a tool (required)"),
           ("none", "no tool calls (none)"))
MAX_STEPS_LIMIT = 20
_MIN_WIDTH = 560
NO_SERVERS = "No MCP servers are set up: add them in Tools › MCP servers…"


@dataclass(frozen=True)
class ToolsPick:
    """What the dialog returns: the chat's tool settings and how a reply uses them."""

    tools: ChatTools
    tool_choice: str = "auto"
    max_steps: int = 5


class ToolsPickerDialog(QDialog):
    picked = Signal(object)  # ToolsPick
    servers_requested = Signal()  # open the MCP servers settings

    def __init__(self, builtins: Sequence[tuple[str, str, str]],
                 parent: QWidget | None = None,
                 ask_folder: Callable[[QWidget], str | None] | None = None) -> None:
        """`builtins`: (tool name, title, what it does) for each built-in tool."""
        super().__init__(parent)
        self.setWindowTitle("Tools for this chat")
        self.setObjectName("toolsPicker")
        self.setMinimumWidth(_MIN_WIDTH)
        self._ask_folder = ask_folder or _ask_folder
        self._always: list[str] = []
        self.builtin_boxes: dict[str, QCheckBox] = {}
        builtin_group = QGroupBox("Built-in tools")
        column = QVBoxLayout(builtin_group)
        for name, title, description in builtins:
            box = QCheckBox(f"{title}  ({name})")
            box.setToolTip(description)
            box.toggled.connect(self._update)
            self.builtin_boxes[name] = box
            hint = QLabel(description)
            hint.setTextFormat(Qt.TextFormat.PlainText)
            mark_secondary(hint)
            hint.setContentsMargins(24, 0, 0, 4)
            column.addWidget(box)
            column.addWidget(hint)
        self.folders = QListWidget()
        self.folders.setAccessibleName("Allowed folders")
        self.folders.setMaximumHeight(90)
        self.add_folder_button = QPushButton("Add folder…")
        self.remove_folder_button = QPushButton("Remove")
        self.folder_note = QLabel("read_file reads only inside these folders (and below).",
                                  wordWrap=True)
        mark_secondary(self.folder_note)
        self.folder_group = QGroupBox("Folders the file tool may read")
        folder_buttons = QHBoxLayout()
        folder_buttons.addWidget(self.add_folder_button)
        folder_buttons.addWidget(self.remove_folder_button)
        folder_buttons.addStretch(1)
        folder_column = QVBoxLayout(self.folder_group)
        folder_column.addWidget(self.folders)
        folder_column.addLayout(folder_buttons)
        folder_column.addWidget(self.folder_note)
        self.server_group = QGroupBox("MCP servers")
        self._server_column = QVBoxLayout(self.server_group)
        self.no_servers = QLabel(NO_SERVERS, wordWrap=True)
        mark_secondary(self.no_servers)
        self.servers_button = QPushButton("MCP servers…")
        self.server_boxes: dict[str, QCheckBox] = {}
        self.choice = QComboBox()
        self.choice.setAccessibleName("Tool choice")
        self.steps = QSpinBox()
        self.steps.setRange(1, MAX_STEPS_LIMIT)
        self.steps.setValue(5)
        self.steps.setAccessibleName("Step limit")
        self.steps.setToolTip("At most this many model turns per reply (a loop of calls "
                              "stops here)")
        self.always_label = QLabel(wordWrap=True)
        self.always_label.setTextFormat(Qt.TextFormat.PlainText)
        self.forget_button = QPushButton("Ask again for every call")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self._build_layout(builtin_group)
        self.add_folder_button.clicked.connect(self._add_folder)
        self.remove_folder_button.clicked.connect(self._remove_folder)
        self.folders.itemSelectionChanged.connect(self._update)
        self.servers_button.clicked.connect(self.servers_requested)
        self.forget_button.clicked.connect(self._forget_always)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        self.set_servers([])
        self._update()

    def _build_layout(self, builtin_group: QGroupBox) -> None:
        run = QGroupBox("How replies use them")
        form = QFormLayout(run)
        form.addRow("Tool choice:", self.choice)
        form.addRow("Step limit:", self.steps)
        form.addRow(self.always_label)
        form.addRow(self.forget_button)
        layout = QVBoxLayout(self)
        layout.addWidget(builtin_group)
        layout.addWidget(self.folder_group)
        layout.addWidget(self.server_group)
        layout.addWidget(run)
        layout.addWidget(self.buttons)

    # -- what the controller calls ----------------------------------------------------------
    def set_servers(self, names: Sequence[str]) -> None:
        """The MCP servers configured in the app (checked ones stay checked)."""
        checked = {n for n, b in self.server_boxes.items() if b.isChecked()}
        for box in self.server_boxes.values():
            self._server_column.removeWidget(box)
            box.deleteLater()
        self.server_boxes = {}
        for name in names:
            box = QCheckBox(name)
            box.setChecked(name in checked)
            box.toggled.connect(self._update)
            self.server_boxes[name] = box
            self._server_column.addWidget(box)
        self._server_column.removeWidget(self.no_servers)
        self._server_column.removeWidget(self.servers_button)
        self._server_column.addWidget(self.no_servers)
        self._server_column.addWidget(self.servers_button)
        self.no_servers.setVisible(not names)
        self._update()

    def set_pick(self, pick: ToolsPick) -> None:
        """Show a chat's settings."""
        tools = pick.tools
        for name, box in self.builtin_boxes.items():
            box.setChecked(name in tools.builtins)
        missing = [n for n in tools.mcp_servers if n not in self.server_boxes]
        if missing:  # a server the chat names that the config no longer has: keep it listed
            self.set_servers([*self.server_boxes, *missing])
        for name, box in self.server_boxes.items():
            box.setChecked(name in tools.mcp_servers)
        self.folders.clear()
        self.folders.addItems(tools.allowed_folders)
        self._always = list(tools.always_allowed)
        self._update()
        index = self.choice.findData(pick.tool_choice)
        self.choice.setCurrentIndex(max(index, 0))
        self.steps.setValue(pick.max_steps)

    def pick(self) -> ToolsPick:
        builtins = [n for n, b in self.builtin_boxes.items() if b.isChecked()]
        servers = [n for n, b in self.server_boxes.items() if b.isChecked()]
        folders = [self.folders.item(i).text() for i in range(self.folders.count())]
        tools = ChatTools(builtins=builtins, mcp_servers=servers,
                          always_allowed=list(self._always), allowed_folders=folders)
        return ToolsPick(tools, str(self.choice.currentData() or "auto"), self.steps.value())

    # -- user actions -----------------------------------------------------------------------
    def _add_folder(self) -> None:
        folder = self._ask_folder(self)
        if folder and not self.folders.findItems(folder, Qt.MatchFlag.MatchExactly):
            self.folders.addItem(folder)
        self._update()

    def _remove_folder(self) -> None:
        for item in self.folders.selectedItems():
            self.folders.takeItem(self.folders.row(item))
        self._update()

    def _forget_always(self) -> None:
        self._always = []
        self._update()

    def _accept(self) -> None:
        self.picked.emit(self.pick())
        self.accept()

    def _update(self) -> None:
        reads_files = self.builtin_boxes.get(READ_FILE)
        files_on = reads_files is not None and reads_files.isChecked()
        self.folder_group.setEnabled(files_on)
        self.remove_folder_button.setEnabled(files_on and bool(self.folders.selectedItems()))
        if files_on and self.folders.count() == 0:
            self.folder_note.setText("Add a folder: without one, read_file can read nothing.")
        else:
            self.folder_note.setText("read_file reads only inside these folders (and below).")
        self._fill_choices()
        self.always_label.setText(
            "Allowed without asking: " + ", ".join(self._always) if self._always
            else "Every call asks for your consent.")
        self.forget_button.setEnabled(bool(self._always))

    def _fill_choices(self) -> None:
        """auto / required / none, then each tool turned on (force that tool)."""
        current = self.choice.currentData()
        tools = [n for n, b in self.builtin_boxes.items() if b.isChecked()]
        wanted = [*CHOICES, *((n, f"always call {n}") for n in tools)]
        if [self.choice.itemData(i) for i in range(self.choice.count())] == \
                [w[0] for w in wanted]:
            return
        self.choice.blockSignals(True)
        self.choice.clear()
        for value, label in wanted:
            self.choice.addItem(label, value)
        self.choice.setCurrentIndex(max(self.choice.findData(current), 0))
        self.choice.blockSignals(False)


def _ask_folder(parent: QWidget) -> str | None:
    folder = QFileDialog.getExistingDirectory(parent, "A folder the file tool may read")
    return folder or None
