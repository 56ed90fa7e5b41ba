"""What an empty chat shows: a welcome and four starter cards, each one click from doing it.

Laid over the chat's empty page (not written into the conversation): the first message hides it.
The cards only emit intents; the window asks the question, opens Learn or picks the guide.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

EXAMPLE_QUESTION = "Explain in two sentences what a token is in a language model."
GUIDE_QUESTION = "What can I learn with Glassbox?"
_CARD_PADDING = 28  # a card's margins around its title, and a little air
_GUIDE_WHAT = "Answers from the guide, citing the passages it used."

# (object name, title, what it does): the title says the action, one short line says how.
CARDS = (
    ("askCard", "Ask a question", "Sends an example question; or type your own below."),
    ("nextTokenCard", "See how it picks the next word",
     "Learn › Next token, on “The capital of France is”."),
    ("guideCard", "Chat with the Glassbox guide", _GUIDE_WHAT),
    ("attentionCard", "Look at attention",
     "Learn › Attention, captured on an example sentence."),
)


class _Card(QPushButton):
    """A button with a bold title and a wrapped line under it (a plain button cannot wrap)."""

    def __init__(self, title: str, what: str) -> None:
        super().__init__()
        self.title = QLabel(title)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.what = QLabel(what, wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.what)
        for label in (self.title, self.what):
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAccessibleName(title)
        self.setToolTip(what)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumHeight(self.fontMetrics().lineSpacing() * 3 + 24)

    def text_shown(self) -> str:
        return f"{self.title.text()}\n{self.what.text()}"

    def set_what(self, what: str) -> None:
        self.what.setText(what)
        self.setToolTip(what)


class WelcomeView(QWidget):
    """A heading, one line on what Glassbox is, and the starter cards."""

    ask_requested = Signal(str)  # an example question to send
    next_token_requested = Signal()
    guide_requested = Signal(str)  # a question for the guide
    attention_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        heading = QLabel("Welcome to Glassbox")
        font = heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        heading.setFont(font)
        intro = QLabel("Chat with a model that runs on this computer, and look inside it while "
                       "it works. Start with one of these:", wordWrap=True)
        self.cards: dict[str, _Card] = {}
        self._grid = grid = QGridLayout()
        grid.setSpacing(10)
        self._columns = 0
        for name, title, what in CARDS:
            card = _Card(title, what)
            card.setObjectName(name)
            self.cards[name] = card
        self._arrange(2)
        self.cards["askCard"].clicked.connect(lambda: self.ask_requested.emit(EXAMPLE_QUESTION))
        self.cards["nextTokenCard"].clicked.connect(self.next_token_requested)
        self.cards["guideCard"].clicked.connect(lambda: self.guide_requested.emit(GUIDE_QUESTION))
        self.cards["attentionCard"].clicked.connect(self.attention_requested)
        self.note = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.note.hide()
        self._column = column = QVBoxLayout(self)
        column.setContentsMargins(24, 16, 24, 16)
        column.addStretch(1)
        column.addWidget(heading)
        column.addWidget(intro)
        column.addSpacing(8)
        column.addLayout(grid)
        column.addWidget(self.note)
        column.addStretch(2)

    def _arrange(self, columns: int) -> None:
        """Cards in two columns, or one where two would cut their titles."""
        if columns == self._columns:
            return
        self._columns = columns
        for index, card in enumerate(self.cards.values()):
            self._grid.addWidget(card, index // columns, index % columns)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        widest = max(card.title.sizeHint().width() for card in self.cards.values())
        margins = self._column.contentsMargins()
        room = event.size().width() - margins.left() - margins.right()
        self._arrange(2 if room >= 2 * (widest + _CARD_PADDING) + self._grid.spacing() else 1)

    def set_guide_waiting(self, why: str | None) -> None:
        """The guide card, disabled with `why` on it ("Indexing the guide… 40%") until the
        guide can answer; None: ready, enabled, with its usual line."""
        card = self.cards["guideCard"]
        card.set_what(why or _GUIDE_WHAT)
        card.setEnabled(why is None)

    def show_note(self, text: str) -> None:
        """A line under the cards (a card that cannot do its job yet says why)."""
        self.note.setText(text)
        self.note.setVisible(bool(text))
