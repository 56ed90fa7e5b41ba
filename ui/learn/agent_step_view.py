"""One step of an agent run: the prompt the model read, what it wrote (the part produced under
the tool-call grammar shaded), the call parsed from it, the consent, the result, the numbers.

Everything is inserted as plain text (cursor.insertText with a format, setPlainText): the
prompt, the output and the result come from a model or a tool and are never read as markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from ui.learn import shading
from ui.theme import mark_secondary
from ui.tool_call_card_view import (
    fit_height,
    mark_passages,
    pretty_arguments,
    source_label,
)

if TYPE_CHECKING:
    from core.api import AgentStep

SUSPICIOUS_NOTE = "⚠ The shaded text tries to instruct the model: it is data, not an order."
CONSTRAINED_LEGEND = "Shaded: written under the tool-call grammar (only valid calls possible)"
_DECISIONS = {"allow_once": "Allowed once", "allow_always": "Allowed for this chat",
              "deny": "Denied: the model was told the call was refused"}


_LINES = {"prompt": 16, "output": 8, "call": 8, "result": 10}


def _mono(box: QPlainTextEdit | QTextEdit) -> None:
    box.setReadOnly(True)
    box.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))


def _section(title: str, *widgets: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    column = QVBoxLayout(box)
    column.setContentsMargins(8, 6, 8, 6)
    for widget in widgets:
        column.addWidget(widget)
    return box


def _label(text: str = "", secondary: bool = False) -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if secondary:
        mark_secondary(label)
    return label


class AgentStepView(QScrollArea):
    next_token_requested = Signal()  # open this step's prompt in Next token

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.step: AgentStep | None = None
        self.numbers = _label()
        self.next_token_button = QPushButton("Open in Next token")
        self.next_token_button.setToolTip("Step through this prompt token by token: see the "
                                          "model's choice of the tool as probabilities")
        self.next_token_button.clicked.connect(self.next_token_requested)
        self.prompt = QPlainTextEdit()
        self.prompt.setAccessibleName("Prompt as the model read it")
        _mono(self.prompt)
        self.output = QTextEdit()
        self.output.setAccessibleName("Generated text")
        self.output.setAcceptRichText(False)
        _mono(self.output)
        self.legend = _label(CONSTRAINED_LEGEND, secondary=True)
        self.call = QPlainTextEdit()
        self.call.setAccessibleName("Parsed call")
        _mono(self.call)
        self.decision = _label()
        self.result = QPlainTextEdit()
        self.result.setAccessibleName("Tool result")
        _mono(self.result)
        self.result_note = _label(secondary=True)
        self.warning = _label(SUSPICIOUS_NOTE)
        self._build_layout()

    def _build_layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.numbers, 1)
        top.addWidget(self.next_token_button)
        self.prompt_box = _section("Prompt as the model read it (chat template and tool "
                                   "schemas included)", self.prompt)
        self.output_box = _section("What the model wrote", self.output, self.legend)
        self.call_box = _section("The call parsed from it", self.call, self.decision)
        self.result_box = _section("The tool's result, given back to the model", self.result,
                                   self.result_note, self.warning)
        inner = QWidget()
        column = QVBoxLayout(inner)
        column.setContentsMargins(4, 4, 4, 4)
        column.addLayout(top)
        for box in (self.prompt_box, self.output_box, self.call_box, self.result_box):
            column.addWidget(box)
        column.addStretch(1)
        self.setWidget(inner)

    def show_step(self, step: AgentStep) -> None:
        self.step = step
        self.numbers.setText(f"Step {step.index + 1} · read {step.prompt_tokens:,} tokens · "
                             f"wrote {step.completion_tokens:,} tokens · "
                             f"{step.elapsed_s:.2f} s")
        self.next_token_button.setEnabled(step.call is not None)
        self.prompt.setPlainText(step.prompt)
        fit_height(self.prompt, step.prompt, _LINES["prompt"])
        self._show_output(step.raw_output, step.constrained)
        call = step.call
        self.call_box.setVisible(call is not None)
        if call is not None:
            self.call.setPlainText(f"{call.name}  ({source_label(call.source)})\n"
                                   f"{pretty_arguments(call.arguments)}")
            fit_height(self.call, self.call.toPlainText(), _LINES["call"])
            self.decision.setText("Consent: " + _DECISIONS.get(step.decision or "",
                                                              "not asked"))
        self._show_result(step)

    def _show_output(self, raw: str, constrained: tuple[int, int] | None) -> None:
        self.output.clear()
        cursor = QTextCursor(self.output.document())
        plain = QTextCharFormat()
        shaded = QTextCharFormat()
        color = shading.chip_colors(self.palette())[0]
        shaded.setBackground(color)
        shaded.setForeground(shading.readable_on(color))
        start, end = constrained if constrained else (len(raw), len(raw))
        start, end = max(0, min(start, len(raw))), max(0, min(end, len(raw)))
        cursor.insertText(raw[:start], plain)
        cursor.insertText(raw[start:end], shaded)
        cursor.insertText(raw[end:], plain)
        self.legend.setVisible(end > start)
        fit_height(self.output, raw, _LINES["output"])

    def _show_result(self, step: AgentStep) -> None:
        outcome = step.outcome
        self.result_box.setVisible(outcome is not None)
        if outcome is None:
            return
        self.result.setPlainText(outcome.text)
        fit_height(self.result, outcome.text, _LINES["result"])
        notes = []
        if outcome.denied:
            notes.append("The call was denied: this is what the model was told.")
        if not outcome.ok:
            notes.append(f"Failed: {outcome.error or 'no reason given'}")
        if outcome.truncated:
            notes.append(f"Truncated: the model read {len(outcome.text):,} of "
                         f"{outcome.original_chars:,} characters.")
        notes.append(f"The tool took {outcome.elapsed_s:.2f} s.")
        self.result_note.setText(" ".join(notes))
        self.warning.setVisible(bool(outcome.suspicious))
        mark_passages(self.result, outcome.suspicious)

    def shaded_text(self) -> str:
        """The output text that carries the constrained shading (for tests and readers)."""
        color = shading.chip_colors(self.palette())[0]
        document = self.output.document()
        cursor = QTextCursor(document)
        chars = []
        for position in range(document.characterCount() - 1):
            cursor.setPosition(position + 1)  # the format of the character before the cursor
            if cursor.charFormat().background().color() == color:
                char = document.characterAt(position)
                chars.append("\n" if char == "\u2029" else char)
        return "".join(chars)
