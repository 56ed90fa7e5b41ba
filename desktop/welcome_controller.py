"""The empty chat's starter cards, each doing what it says: ask, Next token, the guide, attention.

The cards are views (ui/welcome_view.py); what they start lives in the window's parts, so this
only routes each intent to the part that does it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

if TYPE_CHECKING:
    from core.api import CollectionInfo, IndexProgress
    from desktop.documents_worker import IndexOutcome
    from desktop.main_window import MainWindow

NEXT_TOKEN_EXAMPLE = "The capital of France is"
# core.rag.sample.SAMPLE_COLLECTION, named here: that module loads numpy, which stays off the
# GUI thread (tests/gui/test_welcome.py checks that the two agree).
SAMPLE_COLLECTION = "Glassbox guide"
STARTING = "Glassbox is still starting: the model is loading. Try again in a moment."
GUIDE_PREPARING = "Getting the guide ready…"
GUIDE_INDEXING = "Indexing the guide… {percent}%: ready when it is done."
# Progress counts whole files, and the first takes longest (the embedding model loads for it):
# until one is done the card says what is going on instead of "0%" for a minute.
GUIDE_LOADING = "Indexing the guide… (loading the embedding model): ready when it is done."
GUIDE_FIRST_PASSAGES = "Indexing the guide… {chunks} passages so far: ready when it is done."
GUIDE_NOT_INDEXED = "The guide is not indexed yet: index it in the Documents tab."
GUIDE_MISSING = "The guide is not among your collections."


class WelcomeController(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        welcome = window.chat_view.welcome
        welcome.ask_requested.connect(self.ask)
        welcome.next_token_requested.connect(self.next_token)
        welcome.guide_requested.connect(self.ask_guide)
        welcome.attention_requested.connect(self.attention)
        # The guide card waits until the guide is indexed: asked earlier, the guide had no
        # passages and the reply said it was "not backed by your documents".
        self._guide: CollectionInfo | None = None
        self._guide_indexing = False
        self._guide_percent = 0
        self._guide_files_done = 0
        self._guide_chunks = 0
        self._collections_known = False
        self._sample_settled = False
        documents = window.documents_controller
        if documents is not None:
            handle = documents.handle
            handle.collections_changed.connect(self._on_collections)
            handle.indexing_started.connect(self._on_indexing_started)
            handle.progress.connect(self._on_progress)
            handle.finished.connect(self._on_finished)
            handle.sample_settled.connect(self._on_sample_settled)
        self._show_guide_state()

    # -- the guide card's state ---------------------------------------------------------------
    def guide_ready(self) -> bool:
        guide = self._guide
        return guide is not None and guide.indexed > 0 and not self._guide_indexing

    def _on_collections(self, collections: list[CollectionInfo]) -> None:
        self._collections_known = True
        self._guide = next((c for c in collections if c.name == SAMPLE_COLLECTION), None)
        self._show_guide_state()

    def _on_indexing_started(self, name: str) -> None:
        # One run at a time: a run of another collection means the guide's is not going on.
        self._guide_indexing = name == SAMPLE_COLLECTION
        self._guide_percent = 0
        self._guide_files_done = 0
        self._guide_chunks = 0
        self._show_guide_state()

    def _on_progress(self, event: IndexProgress) -> None:
        if self._guide_indexing and event.files_total:
            self._guide_percent = min(99, 100 * event.files_done // event.files_total)
            self._guide_files_done = event.files_done
            self._guide_chunks = event.chunks_done
            self._show_guide_state()

    def _on_finished(self, outcome: IndexOutcome) -> None:
        if outcome.collection == SAMPLE_COLLECTION:
            self._guide_indexing = False
            self._show_guide_state()  # the collections (its indexed count) follow

    def _on_sample_settled(self) -> None:
        self._sample_settled = True
        self._show_guide_state()

    def _show_guide_state(self) -> None:
        welcome = self._window.chat_view.welcome
        if self.guide_ready():
            welcome.set_guide_waiting(None)
        elif self._guide_indexing and self._guide_files_done == 0:
            welcome.set_guide_waiting(GUIDE_FIRST_PASSAGES.format(chunks=self._guide_chunks)
                                      if self._guide_chunks else GUIDE_LOADING)
        elif self._guide_indexing:
            welcome.set_guide_waiting(GUIDE_INDEXING.format(percent=self._guide_percent))
        elif self._guide is not None:
            welcome.set_guide_waiting(GUIDE_NOT_INDEXED)
        elif self._collections_known and self._sample_settled:
            welcome.set_guide_waiting(GUIDE_MISSING)
        else:  # the first list of collections, or the first run's guide, is on its way
            welcome.set_guide_waiting(GUIDE_PREPARING)

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
        window = self._window
        welcome = window.chat_view.welcome
        button = window.collections_button
        if not self.guide_ready() or SAMPLE_COLLECTION not in button.available():
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
