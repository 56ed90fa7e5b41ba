"""ChatView on its own: Markdown, highlighted code, safe links and images, live streaming."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QColor, QPalette, QTextDocument
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.store import StoredMessage
from ui.chat_view import ChatView
from ui.message_render import Segment, split_fences


def message(role: str, content: str, status: str = "complete", mid: int = 1) -> StoredMessage:
    return StoredMessage(mid, 1, role, content, status, 0.0, None)


@pytest.fixture
def view(qtbot: QtBot) -> ChatView:
    widget = ChatView()
    qtbot.addWidget(widget)
    widget.resize(600, 400)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A local server that must never see a connection."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.setblocking(False)
    yield server
    server.close()


def code_colors(view: ChatView, snippet: str) -> set[str]:
    """Foreground colours used for the characters of `snippet` in the document."""
    cursor = view.document().find(snippet)
    assert not cursor.isNull(), f"{snippet!r} not rendered"
    colors = set()
    for position in range(cursor.selectionStart(), cursor.selectionEnd()):
        probe = view.textCursor()
        probe.setPosition(position + 1)
        colors.add(probe.charFormat().foreground().color().name())
    return colors


def test_split_fences_cuts_code_out_of_markdown() -> None:
    text = "Intro\n\n```python\nx = 1\n\ny = 2\n```\nAfter\n~~~\nraw\n"
    assert split_fences(text) == [
        Segment("markdown", "Intro\n"),
        Segment("code", "x = 1\n\ny = 2", "python"),
        Segment("markdown", "After"),
        Segment("code", "raw\n", ""),  # an unclosed fence runs to the end (streaming)
    ]


def test_markdown_and_code_are_rendered(view: ChatView) -> None:
    view.set_messages([
        message("user", "Show me **code**"),
        message("assistant", "# Title\n\nSome *text*.\n\n```python\ndef f():\n    return 42\n```"),
    ])
    text = view.toPlainText()
    assert "**" not in text and "```" not in text
    assert "def f():\n    return 42" in text
    # pygments gave the keyword and the number different colours from the plain text.
    assert len(code_colors(view, "def f():") | code_colors(view, "return 42")) >= 3
    assert view.document().find("Title").blockFormat().headingLevel() == 1


def test_dark_palette_gives_readable_code(view: ChatView, qapp: QApplication) -> None:
    palette = QPalette(qapp.palette())
    palette.setColor(QPalette.ColorRole.Base, QColor("#1e1e1e"))
    palette.setColor(QPalette.ColorRole.Text, QColor("#e6e6e6"))
    view.setPalette(palette)
    view.set_messages([message("assistant", "```python\nvalue = compute(1)\n```")])
    for color in code_colors(view, "value = compute(1)"):
        assert QColor(color).lightness() > 110, f"{color} is too dark on a dark background"


def test_html_from_the_model_is_shown_as_text(view: ChatView) -> None:
    view.set_messages([message("assistant", "<b>bold?</b> <img src='http://127.0.0.1:9/x.png'>")])
    assert "<b>bold?</b>" in view.toPlainText()
    assert not view.blocked_resources


def test_remote_images_and_links_are_never_fetched(view: ChatView, qtbot: QtBot,
                                                   listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    view.set_messages([message("assistant",
                               "![x](http://127.0.0.1:9/x.png) "
                               f"![local](http://127.0.0.1:{port}/y.png) "
                               f"[a link](http://127.0.0.1:{port}/page)")])
    view.grab()  # lay out and paint everything
    qtbot.wait(200)
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody connected
    assert "[image: x]" in view.toPlainText()
    assert "[image: local]" in view.toPlainText()
    # Whatever asks the document for a remote resource gets nothing back.
    loaded = view.document().resource(QTextDocument.ResourceType.ImageResource,
                                      QUrl(f"http://127.0.0.1:{port}/y.png"))
    assert loaded is None
    assert view.loadResource(QTextDocument.ResourceType.ImageResource.value,
                             QUrl("http://127.0.0.1:9/x.png")) is None
    assert not view.openLinks() and not view.openExternalLinks()


def test_clicking_a_link_reports_it_instead_of_navigating(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages([message("assistant", "[docs](mailto:someone@example.invalid)")])
    before = view.toPlainText()
    with qtbot.waitSignal(view.link_activated) as clicked:
        view.anchorClicked.emit(QUrl("mailto:someone@example.invalid"))
    assert clicked.args == [QUrl("mailto:someone@example.invalid")]
    assert view.toPlainText() == before


def test_streaming_updates_live_and_marks_the_end(view: ChatView, qtbot: QtBot) -> None:
    view.set_messages([message("user", "Count.")])
    view.begin_reply()
    for word in ["one ", "two ", "three"]:
        view.append_reply_text(word)
    qtbot.waitUntil(lambda: "one two three" in view.toPlainText())
    view.finish_reply("interrupted")
    assert view.shown_messages()[-1] == ("assistant", "one two three", "interrupted")
    assert "Interrupted" in view.toPlainText()


def test_a_failed_reply_shows_the_error(view: ChatView) -> None:
    view.set_messages([message("user", "Hi"),
                       message("assistant", "The engine stopped.", "failed", 2)])
    assert "This reply failed: The engine stopped." in view.toPlainText()


def test_streaming_follows_the_bottom_unless_the_user_scrolled_up(view: ChatView,
                                                                  qtbot: QtBot) -> None:
    view.set_messages([message("user", "line\n\n" * 80)])
    bar = view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())
    view.begin_reply()
    view.append_reply_text("more text\n\n" * 20)
    qtbot.waitUntil(lambda: "more text" in view.toPlainText())
    qtbot.waitUntil(lambda: bar.value() == bar.maximum())

    bar.setValue(0)  # the user scrolls up to read
    view.append_reply_text("even more\n\n" * 20)
    qtbot.waitUntil(lambda: "even more" in view.toPlainText())
    assert bar.value() == 0

