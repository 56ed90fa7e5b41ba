"""A bar over the chat saying the model is a tiny demo model, with one click to a better one.

Shown when the bundled demo model answers from documents, or starts a conversation; the
button downloads the best starter model that fits this computer (in the Models tab, where the
download can be followed, paused or cancelled).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from ui.tinted_bar import TintedBar

_TINT = QColor("#2f7bd9")


class ModelHintView(TintedBar):
    """Text, an optional download button and a dismiss button; emits intents only."""

    download_requested = Signal(str, str)  # repo id, file name
    dismissed = Signal()
    size_changed = Signal()  # shown, hidden or its text rewrapped: the host lays it out again

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(_TINT, 0.14, parent)  # informative, not an error
        self.setObjectName("modelHint")
        self.label = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.download_button = QPushButton()
        self.dismiss_button = QToolButton()
        self.dismiss_button.setText("✕")
        self.dismiss_button.setToolTip("Hide this suggestion")
        self.dismiss_button.setAutoRaise(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.download_button, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(self.dismiss_button, 0, Qt.AlignmentFlag.AlignTop)
        self._download: tuple[str, str] | None = None
        self.download_button.clicked.connect(self._on_download)
        self.dismiss_button.clicked.connect(self._on_dismiss)
        self.hide()

    def show_hint(self, text: str, button: str | None = None,
                  download: tuple[str, str] | None = None) -> None:
        """Show `text`; with `button` and `download` (repo id, file name), a button that asks
        for that download."""
        self.label.setText(text)
        self._download = download
        self.download_button.setText(button or "")
        self.download_button.setVisible(bool(button and download))
        self.show()

    def text(self) -> str:
        """The hint shown, or "" when hidden."""
        return self.label.text() if not self.isHidden() else ""

    def _on_download(self) -> None:
        if self._download is not None:
            self.hide()
            self.download_requested.emit(*self._download)

    def _on_dismiss(self) -> None:
        self.hide()
        self.dismissed.emit()

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        if event.type() in (QEvent.Type.Show, QEvent.Type.Hide, QEvent.Type.LayoutRequest):
            self.size_changed.emit()
        return handled
