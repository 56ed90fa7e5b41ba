"""First run (issue 18): the empty chat's welcome, whose four cards each do what they say, and
a status bar that shows the chat's numbers only on the Chat tab."""

from __future__ import annotations

from pathlib import Path

from guitools import REPLY_TIMEOUT_MS, STARTUP_TIMEOUT_MS, OpenWindow, wait_idle
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.rag.sample import SAMPLE_COLLECTION
from desktop.welcome_controller import NEXT_TOKEN_EXAMPLE
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

    # Chat with the guide: not indexed yet says so; indexed, the chat answers from it.
    window.tabs.setCurrentIndex(0)
    click(qtbot, window, "guideCard")
    assert "still being indexed" in welcome.note.text()
    window.collections_button.set_available([SAMPLE_COLLECTION])
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
