"""First run (issue 18): the empty chat's welcome, whose four cards each do what they say, and
a status bar that shows the chat's numbers only on the Chat tab."""

from __future__ import annotations

from pathlib import Path

from guitools import REPLY_TIMEOUT_MS, STARTUP_TIMEOUT_MS, OpenWindow, wait_idle
from PySide6.QtCore import QObject, Qt, Signal
from pytestqt.qtbot import QtBot

from core.rag.index_store import CollectionInfo
from core.rag.library import IndexProgress
from core.rag.sample import SAMPLE_COLLECTION
from desktop.documents_worker import IndexOutcome
from desktop.welcome_controller import (
    GUIDE_LOADING,
    GUIDE_MISSING,
    GUIDE_PREPARING,
    NEXT_TOKEN_EXAMPLE,
    WelcomeController,
)
from desktop.welcome_controller import SAMPLE_COLLECTION as GUIDE_NAME
from ui.learn.attention_panel import EXAMPLE as ATTENTION_EXAMPLE
from ui.welcome_view import EXAMPLE_QUESTION, GUIDE_QUESTION

SHOTS = Path("/tmp/shots7")


def click(qtbot: QtBot, window: object, name: str) -> None:
    card = window.chat_view.welcome.cards[name]  # type: ignore[attr-defined]
    assert card.isVisible(), f"{name} is not on screen"
    qtbot.mouseClick(card, Qt.MouseButton.LeftButton)


def test_welcome_cards_each_do_what_they_say(qtbot: QtBot, open_window: OpenWindow) -> None:
    window = open_window()
    window.resize(1100, 760)
    welcome = window.chat_view.welcome
    assert window.chat_view.shown_messages() == [] and welcome.isVisible()
    SHOTS.mkdir(exist_ok=True)
    window.grab().save(str(SHOTS / "welcome.png"))

    # See how it picks the next word: Learn › Next token, computed on the example.
    click(qtbot, window, "nextTokenCard")
    panel = window.learn.next_token
    assert window.tabs.currentWidget() is window.learn
    assert window.learn.currentWidget() is panel and panel.prompt() == NEXT_TOKEN_EXAMPLE
    qtbot.waitUntil(lambda: panel.waterfall.rowCount() > 0, timeout=REPLY_TIMEOUT_MS)
    assert not window.status.chat_numbers_shown()  # the chat's numbers stay on the Chat tab
    window.grab().save(str(SHOTS / "welcome-next-token.png"))

    # Look at attention: Learn › Attention, with a capture of its example.
    window.tabs.setCurrentIndex(0)
    assert window.status.chat_numbers_shown()
    click(qtbot, window, "attentionCard")
    attention = window.learn.attention
    assert window.learn.currentWidget() is attention
    qtbot.waitUntil(lambda: attention.view is not None, timeout=REPLY_TIMEOUT_MS)
    assert attention.prompt.text() == ATTENTION_EXAMPLE
    assert "".join(t.text for t in attention.view.tokens).strip().endswith("Germany is")
    window.grab().save(str(SHOTS / "welcome-attention.png"))

    # Chat with the guide: without the guide the card says so and waits; indexed, the chat
    # answers from it.
    window.tabs.setCurrentIndex(0)
    guide_card = welcome.cards["guideCard"]
    assert window.documents_controller is not None
    handle = window.documents_controller.handle
    qtbot.waitUntil(lambda: GUIDE_MISSING in guide_card.what.text())  # this test has no guide
    assert not guide_card.isEnabled()
    window.collections_button.set_available([SAMPLE_COLLECTION])
    handle.collections_changed.emit([_guide(indexed=7)])
    assert guide_card.isEnabled()
    click(qtbot, window, "guideCard")
    assert window.collections_button.chosen() == [SAMPLE_COLLECTION]
    assert window.composer.text() == GUIDE_QUESTION
    assert window.sources_controller is not None
    window.grab().save(str(SHOTS / "welcome-guide.png"))
    window.collections_button.set_chosen([])  # the ask card below answers without documents
    window.sources_controller.choose_collections([])
    qtbot.waitUntil(lambda: not window.store_busy(), timeout=STARTUP_TIMEOUT_MS)

    # Ask a question: sends the example; the conversation replaces the welcome.
    assert window.engine is not None
    with qtbot.waitSignal(window.engine.worker.reply_finished, timeout=REPLY_TIMEOUT_MS):
        click(qtbot, window, "askCard")
    wait_idle(qtbot, window)
    shown = window.chat_view.shown_messages()
    assert shown[0][:2] == ("user", EXAMPLE_QUESTION) and shown[1][0] == "assistant"
    assert not welcome.isVisible()
    window.grab().save(str(SHOTS / "welcome-asked.png"))


def test_welcome_cards_are_never_cut(qtbot: QtBot) -> None:
    from PySide6.QtWidgets import QApplication

    from ui.chat_view import ChatView

    view = ChatView()
    qtbot.addWidget(view)
    view.show()
    for width in (460, 700, 1000):  # one column when two would cut the titles
        view.resize(width, 520)
        QApplication.processEvents()
        for card in view.welcome.cards.values():
            assert card.title.width() >= card.title.sizeHint().width(), (width, card.title.text())
            assert card.what.height() >= card.what.heightForWidth(card.what.width())


def _guide(indexed: int, pending: int = 0) -> CollectionInfo:
    return CollectionInfo(1, SAMPLE_COLLECTION, 0.0, indexed + pending, indexed, 0, pending,
                          indexed * 9)


class _DocumentsHandle(QObject):
    """The documents worker's signals, sent by the test."""

    collections_changed = Signal(list)
    indexing_started = Signal(str)
    progress = Signal(object)
    finished = Signal(object)
    sample_settled = Signal()


class _Window(QObject):
    """What the welcome controller uses of the window."""

    def __init__(self) -> None:
        from types import SimpleNamespace

        from ui.chat_view import ChatView
        from ui.collections_button import CollectionsButton
        from ui.composer_view import ComposerView

        super().__init__()
        self.chat_view = ChatView()
        self.collections_button = CollectionsButton()
        self.composer = ComposerView()
        self.handle = _DocumentsHandle()
        self.documents_controller = SimpleNamespace(handle=self.handle)
        self.sources_controller = None


def test_the_guide_card_waits_until_the_guide_is_indexed(qtbot: QtBot) -> None:
    """Asked while the guide was indexing, the guide had no passages: the reply said it was
    "not backed by your documents". The card now waits, saying how far indexing is."""
    assert GUIDE_NAME == SAMPLE_COLLECTION
    window = _Window()
    qtbot.addWidget(window.chat_view)
    controller = WelcomeController(window)  # type: ignore[arg-type]
    card = window.chat_view.welcome.cards["guideCard"]
    handle = window.handle
    assert not card.isEnabled() and card.what.text() == GUIDE_PREPARING
    # The first run: the collection exists as soon as its files are added, none indexed yet.
    handle.indexing_started.emit(SAMPLE_COLLECTION)
    handle.collections_changed.emit([_guide(indexed=0, pending=7)])
    window.collections_button.set_available([SAMPLE_COLLECTION])  # as the sources do
    # Until the first file is done (it loads the embedding model) the card said "0%" for a
    # minute: it says what is going on, then counts passages.
    assert not card.isEnabled() and card.what.text() == GUIDE_LOADING
    handle.progress.emit(IndexProgress("started", 0, 7, 0))
    assert not card.isEnabled() and card.what.text() == GUIDE_LOADING
    handle.progress.emit(IndexProgress("embedding", 0, 7, 16))
    assert not card.isEnabled() and "Indexing the guide… 16 passages" in card.what.text()
    handle.progress.emit(IndexProgress("embedding", 3, 7, 40))
    assert not card.isEnabled() and "Indexing the guide… 42%" in card.what.text()
    qtbot.mouseClick(card, Qt.MouseButton.LeftButton)
    assert window.collections_button.chosen() == []  # a disabled card does nothing
    # Another collection indexed meanwhile (the user's) leaves the guide's card alone.
    handle.finished.emit(IndexOutcome(SAMPLE_COLLECTION, 7, 0, 0, 60, False, 9.0))
    handle.collections_changed.emit([_guide(indexed=7)])
    assert card.isEnabled() and "citing the passages" in card.what.text()
    handle.indexing_started.emit("notes")
    assert card.isEnabled()
    qtbot.mouseClick(card, Qt.MouseButton.LeftButton)
    assert window.collections_button.chosen() == [SAMPLE_COLLECTION]
    assert window.composer.text() == GUIDE_QUESTION
    # Removed by the user (a later start): the card says the guide is not there.
    handle.collections_changed.emit([])
    handle.sample_settled.emit()
    assert not card.isEnabled() and card.what.text() == GUIDE_MISSING
    del controller
