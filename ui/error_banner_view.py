"""An inline, non-modal error message with a dismiss button and, when offered, one action
(such as Restart after the model engine stopped)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from ui.tinted_bar import TintedBar

_ERROR = QColor("#d9382c")


class ErrorBannerView(TintedBar):
    """Shows the latest error until dismissed. Never blocks the window like a message box."""

    dismissed = Signal()
    action_triggered = Signal(str)  # the action's text, e.g. "Restart"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(_ERROR, 0.18, parent)  # reads as an error in light and dark themes
        self.setObjectName("errorBanner")
        self.icon = QLabel("⚠")
        self.icon.setStyleSheet(f"color: {_ERROR.name()}; font-weight: bold;")
        self.label = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action_button = QPushButton()
        self.action_button.hide()
        self.dismiss_button = QToolButton()
        self.dismiss_button.setText("✕")
        self.dismiss_button.setToolTip("Dismiss")
        self.dismiss_button.setAutoRaise(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.dismiss_button, 0, Qt.AlignmentFlag.AlignTop)
        self.dismiss_button.clicked.connect(self.dismiss)
        self.action_button.clicked.connect(self._on_action)
        self.hide()

    def show_message(self, message: str, action: str | None = None) -> None:
        """Show `message`; with `action`, a button of that name that emits action_triggered.
        A later message without an action removes the button, so it never outlives its cause."""
        self.label.setText(message)
        self.action_button.setText(action or "")
        self.action_button.setVisible(bool(action))
        self.show()

    def action(self) -> str:
        """The offered action's name, or "" when none is offered (or the banner is hidden)."""
        return self.action_button.text() if self.message() and \
            self.action_button.isVisibleTo(self) else ""

    def _on_action(self) -> None:
        name = self.action_button.text()
        self.action_button.hide()
        self.hide()
        self.action_triggered.emit(name)

    def message(self) -> str:
        return self.label.text() if self.isVisibleTo(self.parentWidget() or self) else ""

    def dismiss(self) -> None:
        if self.isVisibleTo(self.parentWidget() or self):
            self.hide()
            self.dismissed.emit()
