"""Chatting with documents in the window: citations link to passages, the Sources pane explains."""

from __future__ import annotations

import sys
from pathlib import Path

from guitools import OpenWindow, send_and_wait, stored_messages, wait_for_chat, write_settings
from PySide6.QtCore import QUrl
from pytestqt.qtbot import QtBot

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rag"))
from rag_files import FREEDONIA, write_corpus  # noqa: E402

from core.rag.library import DocumentLibrary  # noqa: E402
from core.rag.sample import SAMPLE_COLLECTION  # noqa: E402
from core.rag.sample import STATE_KEY as SAMPLE_STATE_KEY  # noqa: E402
from ui.citation_links import cite_url  # noqa: E402

QUESTION = "What is the capital of Freedonia?"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"  # git-ignored; look at them


def _index_atlas(folder: Path) -> None:
    write_corpus(folder)
    with DocumentLibrary() as library:
        library.add_paths("atlas", [folder])
        assert library.index("atlas").failed == 0


def _choose(window: object, name: str) -> None:
    button = window.collections_button  # type: ignore[attr-defined]
    action = next(a for a in button.menu().actions() if a.text() == name)
    action.trigger()


def test_a_grounded_reply_links_its_citations_to_the_sources_pane(
        qtbot: QtBot, open_window: OpenWindow, tmp_path: Path) -> None:
    _index_atlas(tmp_path / "docs")
    window = open_window()
    assert window.sources_controller is not None
    qtbot.waitUntil(lambda: "atlas" in [a.text() for a in
                                        window.collections_button.menu().actions()],
                    timeout=60_000)
    _choose(window, "atlas")
    assert window.collections_button.text() == "Documents: atlas"
    qtbot.waitUntil(lambda: not window.store_busy())
    send_and_wait(qtbot, window, QUESTION)

    chat_id = window.chats.current_chat_id
    user, reply = stored_messages(chat_id)
    assert user.content == QUESTION and reply.grounding is not None
    # The reply ends with its Sources line, each passage a link to the pane.
    shown = window.chat_view.toPlainText()
    assert "Sources: [1] atlas.pdf, page 2" in shown
    panel = window.sources
    assert panel.table.rowCount() >= 3
    assert panel.table.item(0, 1).text() == "atlas.pdf, page 2"
    assert "“What is the capital of Freedonia?”" in panel.title.text()

    assert panel.isHidden()
    window.chat_view.anchorClicked.emit(QUrl(cite_url(reply.id, 2)))
    assert not panel.isHidden() and window.sources_button.isChecked()
    assert panel.table.selectionModel().selectedRows()[0].row() == 1
    window.chat_view.anchorClicked.emit(QUrl(cite_url(reply.id, 1)))
    assert FREEDONIA in panel.passage.toPlainText()
    assert "background" in panel.passage.toHtml()  # the query's words are marked
    # The X-ray: the exact prompt, passages marked, and the budget bar's parts.
    assert FREEDONIA in panel.prompt.toPlainText() and QUESTION in panel.prompt.toPlainText()
    assert len(panel.prompt.extraSelections()) >= 1
    assert "Passages:" in panel.budget.summary() and "Kept for the reply" in panel.budget.summary()

    window.resize(1300, 800)
    window.tabs.setCurrentIndex(0)
    panel.tabs.setCurrentIndex(1)
    qtbot.wait(100)
    SCREENSHOTS.mkdir(exist_ok=True)
    window.grab().save(str(SCREENSHOTS / "sources-xray.png"))
    panel.tabs.setCurrentIndex(0)
    window.grab().save(str(SCREENSHOTS / "grounded-chat.png"))


def test_sources_survive_a_restart_and_a_chat_without_documents_has_none(
        qtbot: QtBot, open_window: OpenWindow, tmp_path: Path) -> None:
    _index_atlas(tmp_path / "docs")
    window = open_window()
    qtbot.waitUntil(lambda: "atlas" in [a.text() for a in
                                        window.collections_button.menu().actions()],
                    timeout=60_000)
    _choose(window, "atlas")
    qtbot.waitUntil(lambda: not window.store_busy())
    send_and_wait(qtbot, window, QUESTION)
    window.close()

    again = open_window()
    assert again.collections_button.text() == "Documents: atlas"
    assert "Sources: [1] atlas.pdf, page 2" in again.chat_view.toPlainText()
    assert again.sources.table.rowCount() >= 3
    # A new chat starts without documents, and its reply is not grounded.
    again.chat_list.new_requested.emit()
    wait_for_chat(qtbot, again)
    assert again.collections_button.text() == "Documents: off"
    send_and_wait(qtbot, again, "Say hello.")
    reply = stored_messages(again.chats.current_chat_id)[-1]
    assert reply.grounding is None and "Sources:" not in again.chat_view.toPlainText()


def test_the_first_run_indexes_the_guide_and_offers_it_to_chats(
        qtbot: QtBot, open_window: OpenWindow) -> None:
    write_settings(**{SAMPLE_STATE_KEY: None})
    window = open_window()
    qtbot.waitUntil(lambda: SAMPLE_COLLECTION in [a.text() for a in
                                                  window.collections_button.menu().actions()],
                    timeout=90_000)
    assert window.documents_controller is not None
    with DocumentLibrary() as library:
        qtbot.waitUntil(lambda: library.collection(SAMPLE_COLLECTION).pending == 0,
                        timeout=120_000)
        info = library.collection(SAMPLE_COLLECTION)
    assert info.failed == 0 and info.indexed >= 6 and info.chunks > 20
    window.close()
    # The second start leaves the guide alone, even once the user removed it.
    with DocumentLibrary() as library:
        library.remove_collection(SAMPLE_COLLECTION)
    again = open_window()
    qtbot.wait(1000)
    assert SAMPLE_COLLECTION not in [a.text() for a in again.collections_button.menu().actions()]
