"""Chats in the window: switch, new, rename, delete, search, system prompt, reopen."""

from __future__ import annotations

from guitools import (
    OpenWindow,
    send_and_wait,
    stored_messages,
    wait_for_chat,
    wait_idle,
    wait_until_ready,
)
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from core.config import database_path
from core.store import ChatStore
from desktop.main_window import MainWindow


def click_chat(qtbot: QtBot, window: MainWindow, chat_id: int) -> None:
    lst = window.chat_list.list
    row = window.chat_list.chat_ids().index(chat_id)
    rect = lst.visualItemRect(lst.item(row))
    qtbot.mouseClick(lst.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: window.chats.current_chat_id == chat_id)
    wait_idle(qtbot, window)


def new_chat(qtbot: QtBot, window: MainWindow) -> int:
    before = window.chats.current_chat_id
    qtbot.mouseClick(window.chat_list.new_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.chats.current_chat_id != before)
    wait_idle(qtbot, window)
    return window.chats.current_chat_id


def test_switching_chats_shows_each_chats_own_messages(qtbot: QtBot,
                                                       open_window: OpenWindow) -> None:
    window = open_window()
    first = window.chats.current_chat_id
    send_and_wait(qtbot, window, "Name a fruit.")
    second = new_chat(qtbot, window)
    send_and_wait(qtbot, window, "Name a country.")

    click_chat(qtbot, window, first)
    assert window.chat_view.shown_messages()[0][1] == "Name a fruit."
    assert [m.content for m in stored_messages(first)] == [
        m[1] for m in window.chat_view.shown_messages()]
    click_chat(qtbot, window, second)
    assert window.chat_view.shown_messages()[0][1] == "Name a country."
    assert window.chat_list.current_chat_id() == second


def test_new_rename_delete_and_search(qtbot: QtBot, open_window: OpenWindow) -> None:
    window = open_window()
    panel = window.chat_list
    send_and_wait(qtbot, window, "Tell me about apples.")
    new_chat(qtbot, window)
    send_and_wait(qtbot, window, "Tell me about pears.")
    assert panel.titles() == ["Tell me about pears.", "Tell me about apples."]

    # Rename in place: F2, type, Enter.
    panel.list.setFocus()
    qtbot.keyClick(panel.list, Qt.Key.Key_F2)
    qtbot.waitUntil(lambda: panel.list.findChild(QLineEdit) is not None)
    editor = panel.list.findChild(QLineEdit)
    editor.selectAll()
    qtbot.keyClicks(editor, "Pear questions")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Pear questions" in panel.titles())
    wait_idle(qtbot, window)

    # Search matches titles and message text.
    panel.search.setText("apples")
    qtbot.waitUntil(lambda: panel.titles() == ["Tell me about apples."])
    panel.search.setText("no such words")
    qtbot.waitUntil(lambda: panel.titles() == [])
    assert panel.empty_label.isVisible()
    panel.search.clear()
    qtbot.waitUntil(lambda: len(panel.titles()) == 2)

    # Delete asks first; Del without confirming deletes nothing.
    current = window.chats.current_chat_id
    panel.list.setFocus()
    qtbot.keyClick(panel.list, Qt.Key.Key_Delete)
    assert panel.confirmation_visible
    wait_idle(qtbot, window)
    assert len(panel.titles()) == 2
    qtbot.mouseClick(panel._confirm.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.titles() == ["Tell me about apples."])
    wait_idle(qtbot, window)
    assert window.chats.current_chat_id != current
    assert window.chat_view.shown_messages()[0][1] == "Tell me about apples."
    assert stored_messages(current) == []


def test_deleting_the_last_chat_leaves_a_fresh_one(qtbot: QtBot,
                                                   open_window: OpenWindow) -> None:
    window = open_window()
    send_and_wait(qtbot, window, "Hello there.")
    assert window.chat_list.titles() == ["Hello there."]
    window.chat_list.ask_delete()
    window.chat_list.confirm_delete()
    qtbot.waitUntil(lambda: window.chat_list.titles() == ["New chat"])
    wait_idle(qtbot, window)
    assert window.chat_view.shown_messages() == []
    assert stored_messages(window.chats.current_chat_id) == []


def test_system_prompt_is_saved_when_editing_ends(qtbot: QtBot,
                                                  open_window: OpenWindow) -> None:
    window = open_window()
    chat_id = window.chats.current_chat_id
    qtbot.mouseClick(window.system_prompt_button, Qt.MouseButton.LeftButton)
    assert window.system_prompt.isVisible()
    window.system_prompt.editor.setFocus()
    qtbot.keyClicks(window.system_prompt.editor, "Answer like a pirate.")
    window.composer.editor.setFocus()  # leaving the field saves it
    qtbot.waitUntil(lambda: chat_prompt(chat_id) == "Answer like a pirate.")

    second = new_chat(qtbot, window)
    assert window.system_prompt.text() == ""
    click_chat(qtbot, window, chat_id)
    assert window.system_prompt.text() == "Answer like a pirate."
    assert chat_prompt(second) == ""


def chat_prompt(chat_id: int) -> str:
    store = ChatStore(database_path())
    try:
        return store.get_chat(chat_id).system_prompt
    finally:
        store.close()


def test_history_and_selected_chat_survive_a_restart(qtbot: QtBot,
                                                     open_window: OpenWindow) -> None:
    window = open_window()
    first = window.chats.current_chat_id
    send_and_wait(qtbot, window, "Remember the word mango.")
    new_chat(qtbot, window)
    send_and_wait(qtbot, window, "Remember the word kiwi.")
    click_chat(qtbot, window, first)
    shown = window.chat_view.shown_messages()
    window.close()

    again = open_window(wait_ready=False)
    wait_until_ready(qtbot, again)
    wait_for_chat(qtbot, again)
    qtbot.waitUntil(lambda: again.chat_view.shown_messages() == shown)
    assert again.chats.current_chat_id == first
    assert again.chat_list.current_chat_id() == first
    assert again.chat_list.titles() == window.chat_list.titles()


def test_sampling_settings_are_saved_and_used(qtbot: QtBot, open_window: OpenWindow) -> None:
    window = open_window()
    qtbot.mouseClick(window.settings_button, Qt.MouseButton.LeftButton)
    dialog = window.sampling_dialog
    qtbot.waitUntil(dialog.isVisible)
    assert dialog.spins["max_tokens"].value() == 32  # what the test fixture stored
    dialog.spins["max_tokens"].setValue(5)
    dialog.spins["seed"].setValue(11)
    dialog.accept()
    wait_idle(qtbot, window)
    send_and_wait(qtbot, window, "Say hello.")
    reply = stored_messages(window.chats.current_chat_id)[-1]
    assert reply.stats is not None and reply.stats["completion_tokens"] <= 5
