"""Use in chat (the Steering tab): a direction built in the lab steers every chat reply until
Stop, through the chat's own engine; the reply with the same seed changes while it is on."""

from __future__ import annotations

from pathlib import Path

from guitools import OpenWindow, send_and_wait, stored_messages, write_settings
from pytestqt.qtbot import QtBot

from desktop.steering_controller import CHAT_VECTOR, STARTERS

_WAIT_MS = 600_000  # a real model on two busy cores


def test_use_in_chat_steers_the_replies_until_stopped(qtbot: QtBot, open_window: OpenWindow,
                                                       glassbox_home: Path,
                                                       tmp_path: Path) -> None:
    write_settings(sampling={"seed": 7, "max_tokens": 16, "temperature": 0.0})
    window = open_window()
    assert window.engine is not None and window.chats is not None
    chat_id = window.chats.current_chat_id
    assert chat_id is not None
    lines = (STARTERS / "positive_negative.jsonl").read_text(encoding="utf-8").splitlines()
    pairs = tmp_path / "few.jsonl"
    pairs.write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    panel, controller = window.learn.steering, window.steering_controller
    seen: list[object] = []
    window.engine.worker.model_loaded.connect(seen.append)

    send_and_wait(qtbot, window, "Tell me about your weekend.")
    plain = stored_messages(chat_id)[-1].content
    assert not panel.chat_stop_button.isEnabled()

    controller.build(str(pairs))
    qtbot.waitUntil(lambda: controller.direction is not None and not controller.busy,
                    timeout=_WAIT_MS)
    assert panel.chat_button.isEnabled()
    panel.strength.setValue(-20)  # -2.0: far enough to change a greedy reply
    panel.chat_button.click()
    qtbot.waitUntil(lambda: panel.chat_stop_button.isEnabled(), timeout=_WAIT_MS)
    steering = getattr(seen[-1], "control_vector", None)
    assert steering is not None and Path(steering[0]) == glassbox_home / CHAT_VECTOR
    assert steering[1] == -2.0 and steering[2] == panel.layers()
    assert "steered" in panel.chat_state.text()
    qtbot.waitUntil(lambda: "steered -2" in window.status.model_label.text(), timeout=10_000)

    window.chats.new_chat()
    qtbot.waitUntil(lambda: window.chats.current_chat_id not in (None, chat_id),  # type: ignore[union-attr]
                    timeout=10_000)
    steered_chat = window.chats.current_chat_id
    assert steered_chat is not None
    send_and_wait(qtbot, window, "Tell me about your weekend.")
    steered = stored_messages(steered_chat)[-1].content
    assert steered and steered != plain

    panel.chat_stop_button.click()
    qtbot.waitUntil(lambda: not panel.chat_stop_button.isEnabled(), timeout=_WAIT_MS)
    assert getattr(seen[-1], "control_vector", "set") is None
    assert panel.chat_state.text() == "The chat is not steered."
    qtbot.waitUntil(lambda: "steered" not in window.status.model_label.text(), timeout=10_000)
