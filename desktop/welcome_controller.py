"""The empty chat's starter cards, each doing what it says: ask, Next token, the guide, attention.

The cards are views (ui/welcome_view.py); what they start lives in the window's parts, so this
only routes each intent to the part that does it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

if TYPE_CHECKING:
    from desktop.main_window import MainWindow

NEXT_TOKEN_EXAMPLE = "The capital of France is"
STARTING = "Glassbox is still starting: the model is loading. Try again in a moment."


class WelcomeController(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        welcome = window.chat_view.welcome
        welcome.ask_requested.connect(self.ask)
        welcome.next_token_requested.connect(self.next_token)
        welcome.guide_requested.connect(self.ask_guide)
        welcome.attention_requested.connect(self.attention)

    def ask(self, question: str) -> None:
        """Send the example question, as if typed."""
        composer = self._window.composer
        if not composer.isEnabled():
            self._window.chat_view.welcome.show_note(STARTING)
            return
        composer.set_text(question)
        composer.submit()

    def next_token(self) -> None:
        """Learn › Next token on an example prompt (the Learn controller computes it)."""
        window = self._window
        window.tabs.setCurrentWidget(window.learn)
        window.learn.show_next_token().set_prompt(NEXT_TOKEN_EXAMPLE)

    def ask_guide(self, question: str) -> None:
        """Answer this chat from the guide collection, with a question ready to send."""
        from core.rag.sample import SAMPLE_COLLECTION

        window = self._window
        welcome = window.chat_view.welcome
        button = window.collections_button
        if SAMPLE_COLLECTION not in button.available():
            welcome.show_note("The Glassbox guide is still being indexed (see the Documents "
                              "tab); it is ready in a minute or two.")
            return
        chosen = button.chosen()
        if SAMPLE_COLLECTION not in chosen:
            chosen.append(SAMPLE_COLLECTION)
            button.set_chosen(chosen)
            if window.sources_controller is not None:
                window.sources_controller.choose_collections(chosen)
        window.composer.set_text(question)
        window.composer.editor.setFocus()
        welcome.show_note(f"This chat now answers from “{SAMPLE_COLLECTION}”: press Send to "
                          "ask, or write your own question.")

    def attention(self) -> None:
        """Learn › Attention, capturing its example sentence."""
        window = self._window
        window.tabs.setCurrentWidget(window.learn)
        window.learn.show_attention().prompt.try_example()
