"""Honest about the model, in the window: the demo model goes by one name and is labelled where
it is picked; an empty chat and a chat with documents suggest the best starter model for this
computer, one click from its download; each reply carries its own numbers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from guitools import STARTUP_TIMEOUT_MS, OpenWindow, send_and_wait, stored_messages
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.models.bundled import CHAT_MODEL_ID, DEMO_NOTE
from core.models.starter import suggest_for_this_computer
from desktop.models_worker import download_key
from ui.download_list_view import DONE
from ui.message_render import stats_text
from ui.models_panel import DOWNLOAD

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from fake_hub import FakeHub, serving_hub  # noqa: E402
from gguf_files import write_gguf  # noqa: E402

SHOTS = Path("/tmp/shots")


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A local hub for this test; HF_ENDPOINT points at it, never at the network."""
    yield from serving_hub(monkeypatch)


def test_the_demo_model_is_named_once_and_a_better_one_is_one_click_away(
        qtbot: QtBot, open_window: OpenWindow, hub: FakeHub, tmp_path: Path) -> None:
    starter = suggest_for_this_computer()
    assert starter is not None
    hub.add(starter.repo_id, starter.filename, write_gguf(tmp_path / starter.filename))
    window = open_window()
    window.resize(1100, 720)
    label = f"{CHAT_MODEL_ID} ({DEMO_NOTE})"
    qtbot.waitUntil(lambda: window.model_picker.combo.currentText().startswith(label),
                    timeout=STARTUP_TIMEOUT_MS)
    assert window.status.model_label.text().startswith(CHAT_MODEL_ID)  # the same one name

    # The first, empty chat: the demo model says what it is and offers the starter.
    hint = window.chat_view.model_hint
    qtbot.waitUntil(lambda: bool(hint.text()), timeout=STARTUP_TIMEOUT_MS)
    assert DEMO_NOTE in hint.text() and starter.title in hint.text()
    assert hint.download_button.text() == f"Download {starter.title} ({starter.approx_size})"
    hint_top = hint.geometry().bottom()
    assert window.chat_view.viewport().geometry().top() >= hint_top  # over the chat, not on it
    SHOTS.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(SHOTS / "model-hint-first-run.png"))

    # A reply: the hint goes (a conversation started), the reply carries its numbers.
    send_and_wait(qtbot, window, "Say hello.")
    reply = stored_messages(window.chats.current_chat_id)[-1]  # type: ignore[arg-type]
    assert reply.stats and stats_text(reply.stats) in window.chat_view.toPlainText()
    assert "tokens/s" in stats_text(reply.stats)
    assert not hint.text()
    window.grab().save(str(SHOTS / "reply-numbers-window.png"))

    # Documents chosen for this chat: the demo model answering from them says so.
    window.collections_button.chosen_changed.emit(["atlas"])
    assert "answers from your documents" in hint.text()
    window.grab().save(str(SHOTS / "model-hint-grounded.png"))

    # One click: the Models tab, its Download page, the starter's download running there.
    qtbot.mouseClick(hint.download_button, Qt.MouseButton.LeftButton)
    assert window.tabs.currentWidget() is window.models_panel
    assert window.models_panel.tabs.currentIndex() == DOWNLOAD
    key = download_key(starter.repo_id, starter.filename)
    rows = window.models_panel.downloads.rows
    qtbot.waitUntil(lambda: key in rows and rows[key].state == DONE, timeout=60_000)
    assert not hint.text()  # asked once; the user chose
