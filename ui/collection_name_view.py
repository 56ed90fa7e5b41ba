"""An inline row that asks for a new collection's name (a modal dialog would block the window)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class CollectionNameView(QFrame):
    """Emits `accepted(name, paths)`: `paths` are files waiting for the collection, if any."""

    accepted = Signal(str, list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.prompt = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.editor = QLineEdit(placeholderText="Name, e.g. “Course notes”")
        self.create_button = QPushButton("Create")
        self.create_button.setDefault(True)
        cancel = QPushButton("Cancel")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        buttons.addWidget(self.create_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self.prompt)
        layout.addWidget(self.editor)
        layout.addLayout(buttons)
        self._paths: list[str] = []
        self.editor.returnPressed.connect(self.accept)
        self.editor.textChanged.connect(
            lambda text: self.create_button.setEnabled(bool(text.strip())))
        self.create_button.clicked.connect(self.accept)
        cancel.clicked.connect(self.hide)
        self.hide()

    def ask(self, paths: list[str] | None = None, suggestion: str = "") -> None:
        self._paths = list(paths or [])
        count = len(self._paths)
        if count:
            items = "item" if count == 1 else "items"
            self.prompt.setText(f"Name a new collection for the {count} {items} you added:")
        else:
            self.prompt.setText("Name the new collection:")
        self.editor.setText(suggestion)
        self.create_button.setEnabled(bool(suggestion.strip()))
        self.show()
        self.editor.setFocus()
        self.editor.selectAll()

    def accept(self) -> None:
        name = self.editor.text().strip()
        if name and not self.isHidden():
            paths, self._paths = self._paths, []
            self.hide()
            self.accepted.emit(name, paths)
