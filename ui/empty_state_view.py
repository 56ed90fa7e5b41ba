"""An empty panel's one line of guidance, with a button that shows an example where one helps.

The same view says what is going on while the panel loads or why it failed, so an empty, a
loading and a failed panel each have words in place of a blank area.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

TRY_EXAMPLE = "Try an example"


class EmptyStateView(QWidget):
    """Centred guidance and an optional button; emits `action_requested` on a click."""

    action_requested = Signal()

    def __init__(self, text: str, button: str | None = TRY_EXAMPLE,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emptyState")
        self.label = QLabel(text, wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.button = QPushButton(button or "")
        self.button.clicked.connect(self.action_requested)
        # Centred by stretches: an alignment flag would give the label its one-line height.
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.label, 6)
        row.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.button)
        buttons.addStretch(1)
        column = QVBoxLayout(self)
        column.addStretch(1)
        column.addLayout(row)
        column.addLayout(buttons)
        column.addStretch(2)
        # Only once it has a parent: shown before, the button would flash up as a window of its
        # own and take the activation from the main window (its shortcuts stopped working).
        self.button.setVisible(bool(button))

    def set_text(self, text: str, button: bool = True) -> None:
        """Say `text`; `button`: keep offering the example (False while something runs)."""
        self.label.setText(text)
        self.button.setVisible(button and bool(self.button.text()))

    def text(self) -> str:
        return self.label.text()
