"""An inline yes/no question with a confirm button (a modal box would block the window)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget


class InlineConfirmView(QFrame):
    """Asks about one subject (`ask(subject, question)`); emits `confirmed(subject)`."""

    confirmed = Signal(str)

    def __init__(self, confirm_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.subject: str | None = None
        self.label = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.confirm_button = QPushButton(confirm_text)
        cancel = QPushButton("Cancel")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 8, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(cancel)
        layout.addWidget(self.confirm_button)
        self.confirm_button.clicked.connect(self.confirm)
        cancel.clicked.connect(self.hide)
        self.hide()

    def ask(self, subject: str, question: str) -> None:
        self.subject = subject
        self.label.setText(question)
        self.show()
        self.confirm_button.setFocus()

    def confirm(self) -> None:
        if self.subject is not None and not self.isHidden():
            subject, self.subject = self.subject, None
            self.hide()
            self.confirmed.emit(subject)
