"""The Learn area: tokenizer, next token and surprise, one tab each."""

from __future__ import annotations

from PySide6.QtWidgets import QTabWidget, QWidget

from core.engine.types import SamplingSettings
from ui.learn.next_token_panel import NextTokenPanel
from ui.learn.surprise_panel import SurprisePanel
from ui.learn.tokenizer_panel import TokenizerPanel


class LearnPanel(QTabWidget):
    """Holds the three panels; the window connects their signals to the engine worker."""

    def __init__(self, settings: SamplingSettings | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tokenizer = TokenizerPanel()
        self.next_token = NextTokenPanel(settings)
        self.surprise = SurprisePanel()
        self.addTab(self.tokenizer, "Tokenizer")
        self.addTab(self.next_token, "Next token")
        self.addTab(self.surprise, "Surprise")

    def show_tokenizer(self) -> TokenizerPanel:
        self.setCurrentWidget(self.tokenizer)
        return self.tokenizer

    def show_next_token(self) -> NextTokenPanel:
        self.setCurrentWidget(self.next_token)
        return self.next_token

    def show_surprise(self) -> SurprisePanel:
        self.setCurrentWidget(self.surprise)
        return self.surprise
