"""The prompt lab in the window: branches with ‹ › arrows, presets, side-by-side comparisons,
export and import — on the real model and a real database."""

from __future__ import annotations

from pathlib import Path

from guitools import (
    REPLY_TIMEOUT_MS,
    OpenWindow,
    send_and_wait,
    stored_messages,
    wait_idle,
    write_settings,
)
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot
from qt_waits import waiting_for

SHOTS = Path(__file__).resolve().parents[2] / "screenshots"


def _shot(widget: QWidget, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    assert widget.grab().save(str(SHOTS / name))


def test_regenerate_and_edit_make_branches_to_switch_between(qtbot: QtBot,
                                                             open_window: OpenWindow) -> None:
    window = open_window()
    send_and_wait(qtbot, window, "Name a fruit.")
    chat_id = window.chats.current_chat_id if window.chats else None
    assert chat_id is not None and window.engine is not None
    first_reply = stored_messages(chat_id)[-1]
    with waiting_for(qtbot, window.engine.worker.reply_finished, timeout=REPLY_TIMEOUT_MS):
        qtbot.mouseClick(window.composer.regenerate_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: window.chat_view.branch_positions() == [(1, 1), (2, 2)])
    assert "‹  2/2  ›" in window.chat_view.toPlainText()
    _shot(window, "prompt-lab-branch.png")

    window.chat_view.previous_branch_action.trigger()  # Alt+Left
    qtbot.waitUntil(lambda: window.chat_view.branch_positions() == [(1, 1), (1, 2)])
    wait_idle(qtbot, window)
    assert window.chat_view.shown_messages()[-1][1] == first_reply.content

    # Edit the first message through the link under it: a second branch from the root.
    user_id = stored_messages(chat_id)[0].id
    window.chat_view.edit_message_requested.emit(user_id, "Name a fruit.")
    assert window.composer.is_editing and "earlier message" in window.composer.edit_banner.text()
    window.composer.set_text("Name a vegetable.")
    with waiting_for(qtbot, window.engine.worker.reply_finished, timeout=REPLY_TIMEOUT_MS):
        qtbot.mouseClick(window.composer.send_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: window.chat_view.branch_positions() == [(2, 2), (1, 1)])
    shown = window.chat_view.shown_messages()
    assert shown[0][1] == "Name a vegetable." and shown[1][0] == "assistant"
    window.chat_view.branch_requested.emit(stored_messages(chat_id)[0].id, -1)
    qtbot.waitUntil(lambda: window.chat_view.shown_messages()[0][1] == "Name a fruit.")
    # Back on the first question, with the reply that was shown there last.
    assert window.chat_view.branch_positions() == [(1, 2), (1, 2)]


def test_build_a_few_shot_persona_and_start_a_chat_from_it(qtbot: QtBot,
                                                           open_window: OpenWindow) -> None:
    window = open_window()
    assert window.presets is not None
    dialog = window.presets_dialog
    qtbot.mouseClick(window.presets_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.isVisible() and dialog.preset_list.count() >= 6)
    dialog.select("Patient tutor")
    assert dialog.system_edit.toPlainText().startswith("You are a patient tutor")
    assert list(dialog.variable_edits) == ["topic"]
    dialog.select("Sentiment labels")
    assert dialog.examples.rowCount() == 3 and dialog.variables_box.isHidden()
    assert dialog.examples.item(2, 1).text() == "mixed"
    _shot(dialog, "prompt-lab-presets.png")

    qtbot.mouseClick(dialog.new_button, Qt.MouseButton.LeftButton)
    dialog.name_edit.setText("Pirate tutor")
    dialog.system_edit.setPlainText("You are a pirate who teaches {topic}.")
    qtbot.mouseClick(dialog.add_example_button, Qt.MouseButton.LeftButton)
    dialog.examples.item(0, 0).setText("What is {topic}?")
    dialog.examples.item(0, 1).setText("Arr, {topic} be treasure!")
    assert list(dialog.variable_edits) == ["topic"]
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Saved" in dialog.message_label.text())
    # A variable left empty is named, and no chat is made.
    qtbot.mouseClick(dialog.new_chat_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "{topic}" in dialog.message_label.text())
    dialog.variable_edits["topic"].setText("maps")
    before = window.chats.current_chat_id if window.chats else None
    qtbot.mouseClick(dialog.new_chat_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.chats is not None and window.chats.current_chat_id != before)
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: len(window.chat_view.shown_messages()) == 2)
    assert window.system_prompt.text() == "You are a pirate who teaches maps."
    assert [m[1] for m in window.chat_view.shown_messages()] == ["What is maps?",
                                                                 "Arr, maps be treasure!"]
    send_and_wait(qtbot, window, "And what is a compass?")
    assert [m.role for m in stored_messages(window.chats.current_chat_id)] == [
        "user", "assistant", "user", "assistant"]


def test_compare_a_persona_a_plain_prompt_and_a_temperature_then_reopen(
        qtbot: QtBot, open_window: OpenWindow, tmp_path: Path) -> None:
    window = open_window()
    panel = window.compare_panel
    assert window.compare is not None
    window.composer.set_text("The soup was cold and the waiter rude.")
    qtbot.waitUntil(lambda: panel.columns[0].preset_combo.count() > 1)  # presets listed
    window.compare_panel.columns[0].set_spec("Few-shot labels", "Sentiment labels", 0.7)
    with qtbot.waitSignal(window.compare.run_finished, timeout=REPLY_TIMEOUT_MS * 2) as done:
        window.compare_composer_text()  # Ctrl+Shift+C
    comparison_id = done.args[0]
    assert isinstance(comparison_id, int)
    assert window.tabs.currentWidget() is panel
    columns = panel.visible_columns()
    assert len(columns) == 3
    for column in columns:
        assert column.text().strip()
        assert "token" in column.stats_label.text() and "prompt" in column.stats_label.text()
    assert columns[0].model_label.text() == columns[1].model_label.text() != ""
    # Named as the picker and the status bar name it (its library name), not by file stem.
    assert window.models is not None and window.models.model is not None
    assert columns[0].model_label.text() == window.models.name_of_path(window.models.model.path)
    qtbot.waitUntil(lambda: panel.saved_list.count() == 1)
    _shot(window, "prompt-lab-compare.png")

    outputs = [c.text() for c in columns]
    for column in columns:
        column.clear_output(waiting=False)
    panel.open_requested.emit(comparison_id)
    qtbot.waitUntil(lambda: [c.text() for c in panel.visible_columns()] == outputs)
    assert panel.prompt.toPlainText() == "The soup was cold and the waiter rude."
    assert panel.columns[0].spec()["preset"] == "Sentiment labels"
    assert panel.columns[1].spec()["temperature"] == 1.3  # the starting hot variant

    target = tmp_path / "comparison.md"
    window.ask_save_path = lambda *_args: str(target)  # type: ignore[method-assign]
    panel.saved_list.setCurrentRow(0)
    qtbot.mouseClick(panel.export_md_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: target.exists() and not window.store_busy())
    assert "| Few-shot labels |" in target.read_text(encoding="utf-8")


def test_a_comparison_without_a_prompt_is_refused(qtbot: QtBot,
                                                  open_window: OpenWindow) -> None:
    window = open_window()
    window.tabs.setCurrentWidget(window.compare_panel)
    window.compare_panel.set_prompt("  ")
    assert window.compare is not None
    with qtbot.waitSignal(window.compare.run_finished, timeout=REPLY_TIMEOUT_MS):
        qtbot.mouseClick(window.compare_panel.run_button, Qt.MouseButton.LeftButton)
    assert "empty" in window.compare_panel.message_label.text()
    assert "empty" in window.error_banner.message()
    assert not window.compare_panel.running


def test_export_and_import_a_chat_from_the_list(qtbot: QtBot, open_window: OpenWindow,
                                                tmp_path: Path) -> None:
    window = open_window()
    send_and_wait(qtbot, window, "Name a fruit.")
    chats = window.chats
    assert chats is not None and chats.current_chat_id is not None
    menu = window.chat_list.context_menu(with_chat=True)
    assert [a.text() for a in menu.actions() if a.text()] == [
        "Rename", "Delete…", "Export as Markdown…", "Export as JSON…", "Import chat…"]
    target = tmp_path / "chat.json"
    window.ask_save_path = lambda *_args: str(target)  # type: ignore[method-assign]
    window.chat_list.export_json_action.trigger()
    qtbot.waitUntil(lambda: target.exists() and not window.store_busy())
    window.ask_open_path = lambda *_args: str(target)  # type: ignore[method-assign]
    original = chats.current_chat_id
    window.chat_list.import_action.trigger()
    qtbot.waitUntil(lambda: chats.current_chat_id != original)
    wait_idle(qtbot, window)
    assert len(window.chat_list.chat_ids()) == 2
    assert [m[1] for m in window.chat_view.shown_messages()] == [
        m.content for m in stored_messages(original)]
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    window.ask_open_path = lambda *_args: str(bad)  # type: ignore[method-assign]
    window.chat_list.import_action.trigger()
    qtbot.waitUntil(lambda: "no Glassbox format mark" in window.error_banner.message())
    wait_idle(qtbot, window)
    assert len(window.chat_list.chat_ids()) == 2


def test_stop_ends_a_comparison_and_keeps_what_arrived(qtbot: QtBot,
                                                       open_window: OpenWindow) -> None:
    write_settings(sampling={"seed": 7, "max_tokens": 1500, "temperature": 0.7})
    window = open_window()
    panel = window.compare_panel
    assert window.compare is not None
    window.tabs.setCurrentWidget(panel)
    panel.set_prompt("Write a very long story about a lighthouse.")
    panel.column_count.setValue(2)
    with qtbot.waitSignal(window.compare.run_finished, timeout=REPLY_TIMEOUT_MS * 2) as done:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: len(panel.columns[0].text()) > 20, timeout=REPLY_TIMEOUT_MS)
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    assert isinstance(done.args[0], int)
    assert not panel.running
    assert "interrupted" in panel.columns[0].stats_label.text()
    assert panel.columns[1].text() == ""  # the second variant never started
    assert panel.columns[0].text()


def test_an_edit_the_model_refuses_leaves_the_original_branch(qtbot: QtBot,
                                                              open_window: OpenWindow) -> None:
    window = open_window()
    send_and_wait(qtbot, window, "Name a fruit.")
    chat_id = window.chats.current_chat_id if window.chats else None
    assert chat_id is not None and window.engine is not None
    before = stored_messages(chat_id)
    window.chat_view.edit_message_requested.emit(before[0].id, before[0].content)
    window.composer.set_text("word " * 3000)  # longer than the 2048-token context
    with waiting_for(qtbot, window.engine.worker.reply_failed, timeout=REPLY_TIMEOUT_MS):
        qtbot.mouseClick(window.composer.send_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: [m.id for m in stored_messages(chat_id)] == [m.id for m in before])
    assert "too long" in window.error_banner.message()
    assert window.composer.is_editing and window.composer.text().startswith("word word")
    qtbot.waitUntil(lambda: window.chat_view.branch_positions() == [(1, 1), (1, 1)])
