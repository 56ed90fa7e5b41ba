"""The row above the Attention and Logit lens panels: a text, Capture, Last chat reply, status."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from ui.learn import shading


class CapturePromptView(QWidget):
    """A short text to capture, or the last chat reply; shows what the engine is doing."""

    capture_requested = Signal(str)
    last_reply_requested = Signal()

    def __init__(self, example: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.example = example
        self.input = QPlainTextEdit(example)
        self.input.setPlaceholderText("Type a short text for the model to read…")
        # Three lines are enough for a prompt; long texts come from the chat.
        self.input.setFixedHeight(self.input.fontMetrics().lineSpacing() * 3 + 14)
        self.capture_button = QPushButton("Capture")
        self.capture_button.setToolTip("Run the model over this text and read its internals")
        self.reply_button = QPushButton("Last chat reply")
        self.reply_button.setToolTip("Read the open chat's last reply, in its conversation")
        self.example_button = QPushButton("Try an example")
        self.example_button.setToolTip(f"Capture the example: “{example}”")
        self.status = QLabel("Press Capture to run the model over this text, or Try an "
                             "example, or read the chat's Last chat reply.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QVBoxLayout()
        buttons.addWidget(self.capture_button)
        buttons.addWidget(self.reply_button)
        buttons.addWidget(self.example_button)
        buttons.addStretch(1)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.input, 1)
        row.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self.capture_button.clicked.connect(self._on_capture)
        self.reply_button.clicked.connect(self.last_reply_requested)
        self.example_button.clicked.connect(self.try_example)

    def text(self) -> str:
        return self.input.toPlainText()

    def set_text(self, text: str) -> None:
        self.input.setPlainText(text)

    def try_example(self) -> None:
        """Put the example back and capture it."""
        self.set_text(self.example)
        self._on_capture()

    def _set_enabled(self, enabled: bool) -> None:
        for button in (self.capture_button, self.reply_button, self.example_button):
            button.setEnabled(enabled)

    def set_busy(self, message: str) -> None:
        """The engine is working: say on what, and keep the buttons from queueing more."""
        self.status.setStyleSheet("")
        self.status.setText(message)
        self._set_enabled(False)

    def set_done(self, message: str) -> None:
        self.status.setStyleSheet("")
        self.status.setText(message)
        self._set_enabled(True)

    def set_failed(self, message: str) -> None:
        color = shading.css(shading.warm(self.palette(), 0.85))
        self.status.setStyleSheet(f"color: {color};")
        self.status.setText(message)
        self._set_enabled(True)

    def _on_capture(self) -> None:
        text = self.text()
        if not text.strip():
            self.set_failed("Type a text first: the model needs something to read.")
            return
        self.capture_requested.emit(text)
