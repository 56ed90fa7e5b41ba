"""The consent card: a tool call the model wants to make, shown before it runs, and its result.

Tool results are untrusted input (a web page, a file, an MCP server's reply): they are shown
in a plain-text editor, never as rich text, so markup in them stays visible characters and
nothing in them can load, run or link. Passages the agent flagged as trying to instruct the
model are shaded and listed under a warning.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QFontDatabase, QKeyEvent, QPalette, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from ui.learn import shading
from ui.theme import mark_secondary

if TYPE_CHECKING:
    from core.api import Decision, ToolCall, ToolOutcome, ToolSpec

_DECIDED = {"allow_once": "Allowed once", "allow_always": "Allowed for this chat",
            "deny": "Denied: the model is told the call was refused"}
_MAX_LINES = 8
SUSPICIOUS_NOTE = "⚠ This text tries to instruct the model (shaded in the result):"


def source_label(source: str) -> str:
    """"builtin" / "mcp:NAME" in words."""
    if source.startswith("mcp:"):
        return f"MCP server “{source[4:]}”"
    return "built-in tool"


def pretty_arguments(arguments: object) -> str:
    return json.dumps(arguments, indent=2, ensure_ascii=False, sort_keys=True)


def _plain_box(lines: int) -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setReadOnly(True)
    box.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    box.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
    box.setTabChangesFocus(True)
    fit_height(box, "", lines)
    return box


def fit_height(box: QPlainTextEdit | QTextEdit, text: str, max_lines: int) -> None:
    """Give a read-only box the height of its text (wrapped lines estimated), at most
    `max_lines`: a two-line result should not sit in an eight-line well."""
    metrics = box.fontMetrics()
    columns = max(20, (box.viewport().width() or 600) // max(1, metrics.averageCharWidth()))
    lines = sum(1 + len(line) // columns for line in text.split("\n"))
    box.setFixedHeight(metrics.lineSpacing() * max(1, min(lines, max_lines)) + 14)


def mark_passages(box: QPlainTextEdit, passages: tuple[str, ...]) -> int:
    """Shade every occurrence of each passage in `box`; returns how many were shaded. Extra
    selections only paint: the text itself stays plain."""
    color = shading.warm(box.palette(), 0.45)
    fmt = QTextCharFormat()
    fmt.setBackground(color)
    fmt.setForeground(shading.readable_on(color))
    selections = []
    document = box.document()
    for passage in passages:
        if not passage:
            continue
        cursor = document.find(passage)
        while not cursor.isNull():
            selection = QTextEdit.ExtraSelection()
            selection.cursor = QTextCursor(cursor)  # type: ignore[misc]
            selection.format = fmt  # type: ignore[misc]
            selections.append(selection)
            cursor = document.find(passage, cursor)
    box.setExtraSelections(selections)
    return len(selections)


class ToolCallCardView(QFrame):
    """One call: name, source, arguments, Allow once / Always for this chat / Deny; then its
    result. Enter allows once, Esc denies (while the card has focus)."""

    decided = Signal(str)  # a Decision
    changed = Signal()  # its content grew or shrank (a decision, a result)

    def __init__(self, call: ToolCall, spec: ToolSpec | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.call = call
        self.decision: Decision | None = None
        self.setObjectName("toolCallCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName(f"Tool call: {call.name}")
        source = spec.source if spec is not None else call.source
        self.title = QLabel(f"The model wants to run {call.name}")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.source = QLabel(source_label(source))
        self.source.setTextFormat(Qt.TextFormat.PlainText)
        mark_secondary(self.source)
        self.description = QLabel(spec.description if spec is not None else "")
        self.description.setTextFormat(Qt.TextFormat.PlainText)
        self.description.setWordWrap(True)
        self.description.setVisible(bool(self.description.text()))
        mark_secondary(self.description)
        self.arguments = _plain_box(_MAX_LINES)
        self.arguments.setAccessibleName("Arguments")
        self.arguments.setPlainText(pretty_arguments(call.arguments))
        fit_height(self.arguments, self.arguments.toPlainText(), _MAX_LINES)
        self.allow_button = QPushButton("Allow once")
        self.allow_button.setToolTip("Run this call (Enter)")
        self.allow_button.setDefault(True)  # drawn as the main answer
        self.always_button = QPushButton("Always for this chat")
        self.always_button.setToolTip(f"Run it, and run {call.name} in this chat without "
                                      "asking again")
        self.deny_button = QPushButton("Deny")
        self.deny_button.setToolTip("Do not run it: the model is told it was refused (Esc)")
        self.state = QLabel("Waiting for your answer")
        self.state.setTextFormat(Qt.TextFormat.PlainText)
        self.state.setWordWrap(True)
        mark_secondary(self.state)
        self.result_label = QLabel("Result (plain text, as the model reads it):")
        self.result = _plain_box(_MAX_LINES)
        self.result.setAccessibleName("Result")
        self.note = QLabel()
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.setWordWrap(True)
        mark_secondary(self.note)
        self.warning = QLabel(SUSPICIOUS_NOTE)
        self.warning.setTextFormat(Qt.TextFormat.PlainText)
        self.warning.setWordWrap(True)
        self.suspicious = QLabel()
        self.suspicious.setTextFormat(Qt.TextFormat.PlainText)  # the passages are untrusted
        self.suspicious.setWordWrap(True)
        self._build_layout()
        for widget in (self.result_label, self.result, self.note, self.warning,
                       self.suspicious):
            widget.hide()
        self.allow_button.clicked.connect(lambda: self.decide("allow_once"))
        self.always_button.clicked.connect(lambda: self.decide("allow_always"))
        self.deny_button.clicked.connect(lambda: self.decide("deny"))
        for child in (self.arguments, self.result):
            child.installEventFilter(self)  # Enter and Esc there answer the card too

    def _build_layout(self) -> None:
        header = QHBoxLayout()
        header.addWidget(self.title)
        header.addWidget(self.source)
        header.addStretch(1)
        self._buttons = QWidget()
        buttons = QHBoxLayout(self._buttons)
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addStretch(1)
        buttons.addWidget(self.deny_button)
        buttons.addWidget(self.always_button)
        buttons.addWidget(self.allow_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.description)
        layout.addWidget(self.arguments)
        layout.addWidget(self._buttons)
        layout.addWidget(self.state)
        layout.addWidget(self.result_label)
        layout.addWidget(self.result)
        layout.addWidget(self.note)
        layout.addWidget(self.warning)
        layout.addWidget(self.suspicious)

    # -- the decision -----------------------------------------------------------------------
    @property
    def waiting(self) -> bool:
        return self.decision is None

    def decide(self, decision: Decision) -> None:
        """The user's answer (a click, a key, or Stop answering "deny"); once only."""
        if self.decision is not None:
            return
        self.show_decision(decision, asked=True)
        self.decided.emit(decision)

    def show_decision(self, decision: Decision, asked: bool) -> None:
        """Show what was decided; `asked` False: an earlier "always" answered for the user."""
        self.decision = decision
        self._buttons.hide()
        text = _DECIDED[decision]
        if not asked:
            text = f"Allowed without asking ({self.call.name} is allowed for this chat)"
        self.state.setText(text + ("" if decision == "deny" else " · running…"))
        self.changed.emit()

    def set_outcome(self, outcome: ToolOutcome) -> None:
        """The call's result, as plain text; truncation, errors and suspicious passages noted."""
        if self.decision is None:
            self.show_decision("deny" if outcome.denied else "allow_once", asked=True)
        state = _DECIDED.get(self.decision or "", "")
        if outcome.denied:
            self.state.setText(_DECIDED["deny"])
        elif not outcome.ok:
            self.state.setText(f"{state} · failed: {outcome.error or 'no reason given'}")
        else:
            self.state.setText(f"{state} · done in {outcome.elapsed_s:.2f} s")
        if outcome.denied:
            self.changed.emit()
            return
        self.result.setPlainText(outcome.text)
        fit_height(self.result, outcome.text, _MAX_LINES)
        self.result_label.show()
        self.result.show()
        if outcome.truncated:
            self.note.setText(f"Truncated: the model read {len(outcome.text):,} of "
                              f"{outcome.original_chars:,} characters.")
            self.note.show()
        if outcome.suspicious:
            mark_passages(self.result, outcome.suspicious)
            self.suspicious.setText("\n".join(f"“{p}”" for p in outcome.suspicious))
            self.warning.show()
            self.suspicious.show()
            self._style_warning()
        self.changed.emit()

    def _style_warning(self) -> None:
        palette = self.warning.palette()
        color = shading.warm(self.palette(), 0.45)
        palette.setColor(QPalette.ColorRole.Window, color)
        palette.setColor(QPalette.ColorRole.WindowText, shading.readable_on(color))
        self.warning.setPalette(palette)
        self.warning.setAutoFillBackground(True)

    # -- keys -------------------------------------------------------------------------------
    def event(self, event: QEvent) -> bool:
        # Esc is the window's Stop shortcut: while the card has focus, Esc and Enter answer it.
        if event.type() == QEvent.Type.ShortcutOverride and self._answer_key(event):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        if not self._on_key(event):
            super().keyPressEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.ShortcutOverride and self._answer_key(event):
            event.accept()
            return True
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            return self._on_key(event)
        return super().eventFilter(watched, event)

    def _answer_key(self, event: QEvent) -> bool:
        return (self.waiting and isinstance(event, QKeyEvent)
                and event.modifiers() == Qt.KeyboardModifier.NoModifier
                and event.key() in (Qt.Key.Key_Escape, Qt.Key.Key_Return, Qt.Key.Key_Enter))

    def _on_key(self, event: QKeyEvent) -> bool:
        if not self._answer_key(event):
            return False
        self.decide("deny" if event.key() == Qt.Key.Key_Escape else "allow_once")
        return True
