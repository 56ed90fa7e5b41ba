"""Bad input shows the inline error banner and the window carries on."""

from __future__ import annotations

from pathlib import Path

from guitools import STARTUP_TIMEOUT_MS, OpenWindow, stored_messages, wait_for_chat, wait_idle
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from qt_waits import waiting_for

from core.engine.load_guard import LoadGuard
from core.models.bundled import default_chat_model
from desktop.main_window import MainWindow


def choose_model_and_wait_for_error(qtbot: QtBot, window: MainWindow, path: Path) -> str:
    assert window.engine is not None
    with waiting_for(qtbot, window.engine.worker.model_failed,
                     timeout=STARTUP_TIMEOUT_MS) as failed:
        window.model_picker.choose_path(str(path))
    assert failed.args is not None
    qtbot.waitUntil(lambda: window.error_banner.message() != "")
    return window.error_banner.message()


def test_missing_model_file_shows_the_banner(qtbot: QtBot, open_window: OpenWindow,
                                             tmp_path: Path) -> None:
    window = open_window()
    message = choose_model_and_wait_for_error(qtbot, window, tmp_path / "missing.gguf")
    assert "missing.gguf" in message
    assert window.isVisible()
    # The model that worked before comes back, so the chat goes on.
    qtbot.waitUntil(lambda: window.models.model is not None, timeout=STARTUP_TIMEOUT_MS)
    assert window.models.model.path == str(default_chat_model())
    assert window.model_picker.combo.isEnabled()
    qtbot.mouseClick(window.error_banner.dismiss_button, Qt.MouseButton.LeftButton)
    assert window.error_banner.isHidden()


def test_a_file_that_is_not_gguf_shows_the_banner(qtbot: QtBot, open_window: OpenWindow,
                                                  tmp_path: Path) -> None:
    junk = tmp_path / "x.gguf"
    junk.write_bytes(b"this is not a model\x00\x01\x02" * 100)
    window = open_window()
    message = choose_model_and_wait_for_error(qtbot, window, junk)
    assert message
    assert window.isVisible()
    qtbot.waitUntil(lambda: window.models.model is not None, timeout=STARTUP_TIMEOUT_MS)
    assert str(junk) not in window.model_picker.paths()


def test_an_empty_prompt_shows_the_banner_and_stores_nothing(qtbot: QtBot,
                                                             open_window: OpenWindow) -> None:
    window = open_window()
    assert window.engine is not None
    window.composer.set_text("   ")
    with waiting_for(qtbot, window.engine.worker.reply_failed, timeout=STARTUP_TIMEOUT_MS):
        qtbot.mouseClick(window.composer.send_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    assert "empty" in window.error_banner.message()
    assert stored_messages(window.chats.current_chat_id) == []
    assert window.chat_view.shown_messages() == []
    assert window.composer.send_button.isVisible()


def test_a_model_that_was_loading_at_a_crash_is_not_loaded_again(
        qtbot: QtBot, open_window: OpenWindow, glassbox_home: Path) -> None:
    guard = LoadGuard(glassbox_home)
    guard.begin(default_chat_model())
    window = open_window(wait_ready=False)
    qtbot.waitUntil(lambda: "closed while loading" in window.error_banner.message(),
                    timeout=STARTUP_TIMEOUT_MS)
    wait_for_chat(qtbot, window)
    assert default_chat_model().name in window.error_banner.message()
    assert window.models.model is None and window.models.loading is None
    assert window.status.state_label.text() == "No model loaded"
    assert guard.crashed_while_loading() is None
    # Picking it again by hand loads it.
    with waiting_for(qtbot, window.engine.worker.model_loaded, timeout=STARTUP_TIMEOUT_MS):
        window.model_picker.choose_path(str(default_chat_model()))
    assert window.models.model is not None
