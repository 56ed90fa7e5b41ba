"""The tool calls of the reply being written, under the chat: one consent card per call.

The chat itself is a text document (ChatView), which cannot hold buttons, so the cards live
in this strip between the conversation and the composer; it is hidden while it has none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from ui.theme import mark_secondary
from ui.tool_call_card_view import ToolCallCardView

if TYPE_CHECKING:
    from core.api import ToolCall, ToolSpec

_MAX_HEIGHT = 380


class ToolCardsView(QScrollArea):
    decided = Signal(object, str)  # the ToolCall, a Decision

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("toolCards")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setMaximumHeight(_MAX_HEIGHT)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        inner = QWidget()
        self._column = QVBoxLayout(inner)
        self._column.setContentsMargins(8, 4, 8, 4)
        self.heading = QLabel("Tool calls in this reply")
        mark_secondary(self.heading)
        self._column.addWidget(self.heading)
        self._column.addStretch(1)
        self.setWidget(inner)
        self.cards: list[ToolCallCardView] = []
        # As tall as its cards (a result makes one grow), up to a third of a laptop screen.
        self._fit_timer = QTimer(self)
        self._fit_timer.setSingleShot(True)
        self._fit_timer.setInterval(0)
        self._fit_timer.timeout.connect(self._fit)
        self.hide()

    def add_call(self, call: ToolCall, spec: ToolSpec | None) -> ToolCallCardView:
        card = ToolCallCardView(call, spec)
        card.decided.connect(lambda decision, c=call: self.decided.emit(c, decision))
        card.changed.connect(self._fit_timer.start)
        self.cards.append(card)
        self._column.insertWidget(self._column.count() - 1, card)
        self.show()
        self._fit()
        self.ensureWidgetVisible(card)
        return card

    def _fit(self) -> None:
        inner = self.widget()
        if inner is not None:
            inner.adjustSize()
            self.setFixedHeight(min(inner.sizeHint().height() + 2, _MAX_HEIGHT))

    def card_for(self, call: ToolCall) -> ToolCallCardView | None:
        """The newest card of this call (matched by step and name)."""
        return next((c for c in reversed(self.cards)
                     if c.call.step == call.step and c.call.name == call.name), None)

    def waiting_cards(self) -> list[ToolCallCardView]:
        return [c for c in self.cards if c.waiting]

    def clear(self) -> None:
        for card in self.cards:
            self._column.removeWidget(card)
            card.deleteLater()
        self.cards = []
        self.hide()
