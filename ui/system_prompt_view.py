"""The chat's system prompt, saved when the user finishes editing it."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtGui import QFontMetrics, QHideEvent
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from ui.theme import mark_secondary

_EDITOR_LINES = 3


class SystemPromptView(QWidget):
    """Edits one chat's system prompt; emits prompt_edited(chat_id, text) when editing ends."""

    prompt_edited = Signal(int, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._chat_id: int | None = None
        self._saved = ""
        self.editor = QPlainTextEdit()
        self.editor.setPlaceholderText(
            "Optional instructions the model sees before every message of this chat, "
            "e.g. “Answer in one short paragraph.”"
        )
        self.editor.setTabChangesFocus(True)
        line = QFontMetrics(self.editor.font()).lineSpacing()
        self.editor.setFixedHeight(line * _EDITOR_LINES + 16)
        self.editor.installEventFilter(self)
        title = QLabel("System prompt (saved when you leave the field)")
        mark_secondary(title)  # quieter, still AA
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(2)
        layout.addWidget(title)
        layout.addWidget(self.editor)

    def set_prompt(self, chat_id: int | None, text: str) -> None:
        """Show another chat's prompt; an unsaved edit of the previous chat is saved first."""
        self.commit()
        self._chat_id = chat_id
        self._saved = text
        self.editor.setPlainText(text)
        self.setEnabled(chat_id is not None)

    def text(self) -> str:
        return self.editor.toPlainText()

    def commit(self) -> None:
        """Emit the edit if there is one (focus leaving the field calls this)."""
        text = self.editor.toPlainText()
        if self._chat_id is not None and text != self._saved:
            self._saved = text
            self.prompt_edited.emit(self._chat_id, text)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if watched is self.editor and event.type() == QEvent.Type.FocusOut:
            self.commit()
        return super().eventFilter(watched, event)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 (Qt override)
        self.commit()
        super().hideEvent(event)
