"""Talking to the real bundled model through the window: send, stop, regenerate, edit."""

from __future__ import annotations

import multiprocessing

from guitools import (
    LONG_SAMPLING,
    REPLY_TIMEOUT_MS,
    OpenWindow,
    send_and_wait,
    stored_messages,
    wait_idle,
    write_settings,
)
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from qt_waits import waiting_for


def test_send_streams_tokens_and_stores_the_reply(qtbot: QtBot, open_window: OpenWindow) -> None:
    window = open_window()
    assert window.engine is not None
    tokens: list[str] = []
    window.engine.worker.token.connect(lambda _chat, text: tokens.append(text))
    send_and_wait(qtbot, window, "What is a token? Answer briefly.")

    assert tokens, "no token reached the window"
    shown = window.chat_view.shown_messages()
    assert [(role, status) for role, _, status in shown] == [("user", "complete"),
                                                            ("assistant", "complete")]
    assert shown[1][1] == "".join(tokens)
    chat_id = window.chats.current_chat_id
    user, reply = stored_messages(chat_id)
    assert (user.role, user.content) == ("user", "What is a token? Answer briefly.")
    assert (reply.role, reply.status, reply.content) == ("assistant", "complete", shown[1][1])
    assert reply.stats is not None and reply.stats["completion_tokens"] > 0
    assert window.status.context_label.text().endswith("/ 2048 tokens")
    assert "tokens/s" in window.status.speed_label.text()
    assert window.status.state_label.text() == "Ready"
    assert window.chat_list.titles() == ["What is a token? Answer briefly."]
    assert window.error_banner.message() == ""


def test_stop_mid_stream_marks_the_reply_interrupted(qtbot: QtBot,
                                                     open_window: OpenWindow) -> None:
    write_settings(sampling=LONG_SAMPLING)
    window = open_window()
    assert window.engine is not None
    window.composer.set_text("Write a long story about a lighthouse keeper.")
    with waiting_for(qtbot, window.engine.worker.token, timeout=REPLY_TIMEOUT_MS):
        window.composer.submit()
    assert window.composer.stop_button.isVisible()
    with waiting_for(qtbot, window.engine.worker.reply_finished,
                     timeout=REPLY_TIMEOUT_MS) as finished:
        qtbot.mouseClick(window.composer.stop_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)

    assert finished.args is not None and finished.args[2] == "cancelled"
    role, content, status = window.chat_view.shown_messages()[-1]
    assert (role, status) == ("assistant", "interrupted")
    assert "Interrupted" in window.chat_view.toPlainText()
    reply = stored_messages(window.chats.current_chat_id)[-1]
    assert (reply.status, reply.content) == ("interrupted", content)
    assert window.composer.send_button.isVisible()


def test_regenerate_replaces_the_last_reply(qtbot: QtBot, open_window: OpenWindow) -> None:
    window = open_window()
    send_and_wait(qtbot, window, "Name a fruit.")
    chat_id = window.chats.current_chat_id
    first_user, first_reply = stored_messages(chat_id)
    assert window.engine is not None
    with waiting_for(qtbot, window.engine.worker.reply_finished, timeout=REPLY_TIMEOUT_MS):
        qtbot.mouseClick(window.composer.regenerate_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)

    user, reply = stored_messages(chat_id)
    assert user.id == first_user.id
    assert reply.id != first_reply.id and reply.status == "complete"
    assert [m[0] for m in window.chat_view.shown_messages()] == ["user", "assistant"]
    assert window.chat_view.shown_messages()[-1][1] == reply.content


def test_edit_last_message_and_resend(qtbot: QtBot, open_window: OpenWindow) -> None:
    window = open_window()
    send_and_wait(qtbot, window, "Name a fruit.")
    qtbot.mouseClick(window.composer.edit_button, Qt.MouseButton.LeftButton)
    assert window.composer.is_editing
    assert window.composer.text() == "Name a fruit."
    window.composer.set_text("Name a colour.")
    assert window.engine is not None
    with waiting_for(qtbot, window.engine.worker.reply_finished, timeout=REPLY_TIMEOUT_MS):
        qtbot.mouseClick(window.composer.send_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)

    user, reply = stored_messages(window.chats.current_chat_id)
    assert (user.content, reply.role, reply.status) == ("Name a colour.", "assistant",
                                                       "complete")
    shown = window.chat_view.shown_messages()
    assert [(m[0], m[1]) for m in shown] == [("user", "Name a colour."),
                                             ("assistant", reply.content)]
    assert not window.composer.is_editing


def test_keyboard_ctrl_enter_sends_esc_stops_ctrl_n_creates(qtbot: QtBot,
                                                            open_window: OpenWindow) -> None:
    write_settings(sampling=LONG_SAMPLING)
    window = open_window()
    assert window.engine is not None
    first_chat = window.chats.current_chat_id
    window.composer.editor.setFocus()
    window.composer.set_text("Tell me about the sea.")
    with waiting_for(qtbot, window.engine.worker.token, timeout=REPLY_TIMEOUT_MS):
        qtbot.keyClick(window.composer.editor, Qt.Key.Key_Return,
                       Qt.KeyboardModifier.ControlModifier)
    with waiting_for(qtbot, window.engine.worker.reply_finished, timeout=REPLY_TIMEOUT_MS):
        qtbot.keyClick(window.composer.editor, Qt.Key.Key_Escape)
    wait_idle(qtbot, window)
    assert window.chat_view.shown_messages()[-1][2] == "interrupted"

    qtbot.keyClick(window.composer.editor, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.chats.current_chat_id != first_chat)
    wait_idle(qtbot, window)
    assert len(window.chat_list.chat_ids()) == 2
    assert window.chat_view.shown_messages() == []


def test_closing_mid_reply_stops_everything(qtbot: QtBot, open_window: OpenWindow) -> None:
    write_settings(sampling=LONG_SAMPLING)
    # Engines other tests share (the session's `engine` fixture) may run: only ours must end.
    children_before = set(multiprocessing.active_children())
    window = open_window()
    assert window.engine is not None
    window.composer.set_text("Write a long story about a dragon.")
    with waiting_for(qtbot, window.engine.worker.token, timeout=REPLY_TIMEOUT_MS):
        window.composer.submit()
    chat_id = window.chats.current_chat_id
    window.close()

    assert not any(t.isRunning() for t in window.threads())
    assert not set(multiprocessing.active_children()) - children_before
    reply = stored_messages(chat_id)[-1]
    assert (reply.role, reply.status) == ("assistant", "interrupted")
