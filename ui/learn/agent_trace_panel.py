"""Learn › Agent trace: every step of a tool-using reply, as the model saw and wrote it.

Opened from the "Agent trace" link under a reply in the chat (the trace is stored with the
message, so it opens after a restart too). The list on the left holds the steps; the right
shows the chosen one (AgentStepView). "Open in Next token" hands a step's exact prompt to the
Next token panel, where the choice of the tool can be read as probabilities.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ui.empty_state_view import EmptyStateView
from ui.learn.agent_step_view import AgentStepView
from ui.tool_call_card_view import source_label

if TYPE_CHECKING:
    from core.api import AgentStep, AgentTrace

EMPTY_TEXT = ("Turn on a tool for a chat (the Tools button by the message box), ask something "
              "that needs it, then click “Agent trace” under the reply: each step the model "
              "took shows here, with the prompt it read and the call it wrote.")
_STOPS = {"answer": "the model answered", "step_limit": "stopped at the step limit",
          "cancelled": "cancelled", "error": "stopped by an error"}
_SHORT = {"allow_once": "allowed once", "allow_always": "allowed for the chat",
          "deny": "denied"}


def step_title(step: AgentStep) -> str:
    """One line for the step list: what the model did at this step."""
    call = step.call
    if call is None:
        return f"{step.index + 1}. answer in text"
    decision = _SHORT.get(step.decision or "", "not asked")
    failed = " · failed" if step.outcome is not None and not step.outcome.ok else ""
    return f"{step.index + 1}. {call.name} · {decision}{failed}"


def trace_summary(trace: AgentTrace) -> str:
    tools = ", ".join(f"{t.name} ({source_label(t.source)})" for t in trace.tools) or "none"
    tokens = sum(s.prompt_tokens + s.completion_tokens for s in trace.steps)
    seconds = sum(s.elapsed_s for s in trace.steps)
    text = (f"{len(trace.steps)} steps · {_STOPS.get(trace.stop, trace.stop)} · "
            f"{tokens:,} tokens · {seconds:.2f} s · tools offered: {tools}")
    if trace.error:
        text += f"\n{trace.error}"
    return text


class AgentTracePanel(QWidget):
    # A step's exact prompt (the template applied) and the same prompt as messages.
    next_token_requested = Signal(str, list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.trace: AgentTrace | None = None
        self.empty = EmptyStateView(EMPTY_TEXT, button=None)
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setWordWrap(True)
        self.steps = QListWidget()
        self.steps.setAccessibleName("Agent steps")
        self.steps.setMinimumWidth(200)
        self.step_view = AgentStepView()
        self.final = QLabel()
        self.final.setTextFormat(Qt.TextFormat.PlainText)
        self.final.setWordWrap(True)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.steps)
        splitter.addWidget(self.step_view)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([240, 700])
        splitter.setChildrenCollapsible(False)
        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(8, 8, 8, 8)
        column.addWidget(self.summary)
        column.addWidget(splitter, 1)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.steps.currentRowChanged.connect(self._on_step_chosen)
        self.step_view.next_token_requested.connect(self._on_next_token)

    def show_trace(self, trace: AgentTrace) -> None:
        """Show `trace`, the first step where the model chose a tool selected."""
        self.trace = trace
        self.summary.setText(trace_summary(trace))
        self.steps.clear()
        for step in trace.steps:
            item = QListWidgetItem(step_title(step))
            item.setToolTip(step.raw_output[:500])
            self.steps.addItem(item)
        self.stack.setCurrentIndex(1)
        first_call = next((i for i, s in enumerate(trace.steps) if s.call is not None), 0)
        if trace.steps:
            self.steps.setCurrentRow(first_call)

    def clear(self) -> None:
        self.trace = None
        self.steps.clear()
        self.stack.setCurrentIndex(0)

    def _on_step_chosen(self, row: int) -> None:
        if self.trace is not None and 0 <= row < len(self.trace.steps):
            self.step_view.show_step(self.trace.steps[row])

    def _on_next_token(self) -> None:
        step = self.step_view.step
        if step is not None:
            self.next_token_requested.emit(step.prompt, list(step.messages))
