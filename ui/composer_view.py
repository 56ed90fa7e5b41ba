"""Where the user writes: Send (Ctrl+Enter), Stop (Esc), Regenerate and Edit last."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QFontMetrics, QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ui.theme import mark_secondary

_EDITOR_LINES = 4
_LAST_EDIT_NOTE = ("Editing your last message: sending starts a new branch; the original stays "
                   "(‹ › switch).")
_EARLIER_EDIT_NOTE = ("Editing an earlier message: sending starts a new branch from there; "
                      "the original conversation stays (‹ › switch).")


class ComposerView(QWidget):
    """Emits what the user wants; the window decides when the text is taken or given back."""

    send_requested = Signal(str)
    stop_requested = Signal()
    regenerate_requested = Signal()
    edit_resend_requested = Signal(str)
    edit_message_requested = Signal(int, str)  # an earlier message of yours, its new text

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._generating = False
        self._editing = False
        self._edit_target: int | None = None  # an earlier message being edited (None: last)
        self._last_user_text: str | None = None
        self.editor = QPlainTextEdit()
        self.editor.setPlaceholderText("Message the model…   (Ctrl+Enter sends)")
        self.editor.setTabChangesFocus(True)
        line = QFontMetrics(self.editor.font()).lineSpacing()
        self.editor.setFixedHeight(line * _EDITOR_LINES + 16)
        self.edit_banner = QLabel(_LAST_EDIT_NOTE, wordWrap=True)
        mark_secondary(self.edit_banner)  # quieter, still AA
        self.cancel_edit_button = QPushButton("Cancel edit")
        self.send_button = QPushButton("Send")
        self.send_button.setDefault(True)
        self.send_button.setToolTip("Send (Ctrl+Enter)")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the reply (Esc)")
        self.regenerate_button = QPushButton("Regenerate")
        self.regenerate_button.setToolTip("Answer your last message again")
        self.edit_button = QPushButton("Edit last")
        self.edit_button.setToolTip("Put your last message back here to change and resend it")
        # The chat's tools (desktop/tools_controller.py connects it and keeps its text).
        self.tools_button = QToolButton()
        self.tools_button.setText("Tools")
        self.tools_button.setToolTip("Let the model call tools in this chat (each call asks "
                                     "you first)")
        self._build_layout()
        self._build_actions()
        self._connect()
        self._update()

    def _build_layout(self) -> None:
        self._edit_row = QFrame()
        edit_row = QHBoxLayout(self._edit_row)
        edit_row.setContentsMargins(0, 0, 0, 0)
        edit_row.addWidget(self.edit_banner, 1)
        edit_row.addWidget(self.cancel_edit_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.edit_button)
        buttons.addWidget(self.regenerate_button)
        buttons.addWidget(self.tools_button)
        buttons.addStretch(1)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 8)
        layout.addWidget(self._edit_row)
        layout.addWidget(self.editor)
        layout.addLayout(buttons)

    def _build_actions(self) -> None:
        self.send_action = QAction("Send", self)
        self.send_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.stop_action = QAction("Stop", self, shortcut=QKeySequence(Qt.Key.Key_Escape))
        for action in (self.send_action, self.stop_action):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.addAction(action)

    def _connect(self) -> None:
        self.send_button.clicked.connect(self.submit)
        self.send_action.triggered.connect(self.submit)
        self.stop_button.clicked.connect(self.stop_requested)
        self.stop_action.triggered.connect(self.stop_requested)
        self.regenerate_button.clicked.connect(self.regenerate_requested)
        self.edit_button.clicked.connect(self.begin_edit)
        self.cancel_edit_button.clicked.connect(self.cancel_edit)

    # -- what the window calls --------------------------------------------------------------
    def set_generating(self, generating: bool) -> None:
        self._generating = generating
        self._update()

    def set_last_user_text(self, text: str | None) -> None:
        """The chat's last message from the user (None when it has none)."""
        self._last_user_text = text
        if text is None and self._editing:
            self.cancel_edit()
        self._update()

    def text(self) -> str:
        return self.editor.toPlainText()

    def set_text(self, text: str) -> None:
        self.editor.setPlainText(text)
        self.editor.moveCursor(self.editor.textCursor().MoveOperation.End)

    def clear(self) -> None:
        """The text was taken: empty the editor and leave edit mode."""
        self.editor.clear()
        self._editing = False
        self._update()

    @property
    def is_editing(self) -> bool:
        return self._editing

    @property
    def is_generating(self) -> bool:
        return self._generating

    # -- user actions -----------------------------------------------------------------------
    def submit(self) -> None:
        if self._generating or not self.isEnabled():
            return
        if self._editing and self._edit_target is not None:
            self.edit_message_requested.emit(self._edit_target, self.text())
        elif self._editing:
            self.edit_resend_requested.emit(self.text())
        else:
            self.send_requested.emit(self.text())

    def begin_edit(self) -> None:
        if self._last_user_text is None or self._generating:
            return
        self._editing = True
        self._edit_target = None
        self.edit_banner.setText(_LAST_EDIT_NOTE)
        self.set_text(self._last_user_text)
        self.editor.setFocus()
        self._update()

    def begin_edit_of(self, message_id: int, text: str) -> None:
        """Edit any earlier message of yours (the Edit link under it)."""
        if self._generating:
            return
        self._editing = True
        self._edit_target = message_id
        self.edit_banner.setText(_EARLIER_EDIT_NOTE)
        self.set_text(text)
        self.editor.setFocus()
        self._update()

    def cancel_edit(self) -> None:
        if self._editing:
            self._editing = False
            self.editor.clear()
            self._update()

    def _update(self) -> None:
        idle = not self._generating
        has_history = self._last_user_text is not None
        self.send_button.setVisible(idle)
        self.send_button.setText("Resend" if self._editing else "Send")
        self.stop_button.setVisible(not idle)
        self.stop_action.setEnabled(not idle)
        self.send_action.setEnabled(idle)
        self.regenerate_button.setEnabled(idle and has_history and not self._editing)
        self.edit_button.setEnabled(idle and has_history and not self._editing)
        self._edit_row.setVisible(self._editing)
