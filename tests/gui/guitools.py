"""Helpers for the GUI tests: settings, database reads and waits (fixtures are in conftest)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from qt_waits import Heard

from core.config import database_path
from core.store import ChatStore, StoredMessage
from desktop.main_window import MainWindow

# Generous: the CI machine has two cores and the engine child starts a fresh interpreter.
STARTUP_TIMEOUT_MS = 90_000
REPLY_TIMEOUT_MS = 90_000
# Short, reproducible replies keep the suite quick.
FAST_SAMPLING = {"seed": 7, "max_tokens": 32, "temperature": 0.7}
LONG_SAMPLING = {"seed": 7, "max_tokens": 2000, "temperature": 0.7}
TEST_N_CTX = 2048


def write_settings(**values: Any) -> None:
    """Write settings into the test's database, as the app would have saved them."""
    store = ChatStore(database_path())
    try:
        for key, value in values.items():
            store.settings.set(key, value)
    finally:
        store.close()


def stored_messages(chat_id: int) -> list[StoredMessage]:
    """What the database holds, read on the test's thread through its own connection."""
    store = ChatStore(database_path())
    try:
        return store.messages(chat_id)
    finally:
        store.close()


OpenWindow = Callable[..., MainWindow]


def wait_until_ready(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.models is not None and window.models.model is not None,
                    timeout=STARTUP_TIMEOUT_MS)
    wait_for_chat(qtbot, window)


def wait_for_chat(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.chats is not None
                    and window.chats.current_chat_id is not None
                    and window.composer.isEnabled()
                    and not window.store_busy(), timeout=STARTUP_TIMEOUT_MS)


def send_and_wait(qtbot: QtBot, window: MainWindow, text: str) -> None:
    """Type `text`, press Send, and wait until the reply has finished."""
    window.composer.set_text(text)
    assert window.engine is not None
    worker = window.engine.worker
    finished, failed = Heard(), Heard()  # GUI-thread receivers: after the window's own slots
    worker.reply_finished.connect(finished.receive)
    worker.reply_failed.connect(failed.receive)
    try:
        qtbot.mouseClick(window.composer.send_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: finished.args is not None or failed.args is not None,
                        timeout=REPLY_TIMEOUT_MS)
    except AssertionError:
        raise AssertionError(f"no reply within {REPLY_TIMEOUT_MS} ms: {describe(window)}") from None
    finally:
        worker.reply_finished.disconnect(finished.receive)
        worker.reply_failed.disconnect(failed.receive)
    assert failed.args is None, f"the reply failed: {failed.args[1]}"
    wait_idle(qtbot, window)


def describe(window: MainWindow) -> str:
    """What the window was doing, for a test that waited in vain."""
    chats, models = window.chats, window.models
    return (f"chat={chats.current_chat_id if chats else None} "
            f"generating={chats.generating if chats else None} "
            f"composer_enabled={window.composer.isEnabled()} "
            f"send_visible={window.composer.send_button.isVisible()} "
            f"loading={models.loading if models else None} "
            f"model={models.model.path if models and models.model else None} "
            f"store_busy={window.store_busy()} "
            f"banner={window.error_banner.message()!r}")


def wait_idle(qtbot: QtBot, window: MainWindow) -> None:
    """No reply running and no store job pending: what is on screen is settled."""
    qtbot.waitUntil(lambda: window.chats is not None and not window.chats.generating
                    and not window.store_busy(), timeout=REPLY_TIMEOUT_MS)
