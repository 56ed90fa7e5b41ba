"""The window on a remote engine: a real `glassbox serve` on 127.0.0.1 (port 0) added in the
Models tab, tested, picked in the chat, asked; Learn's Next token from the server's
log-probabilities; Attention says it needs a local model and loads one on a click."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from guitools import OpenWindow, send_and_wait, stored_messages
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.api import RemoteEngine
from core.server.config import ServerConfig
from core.server.local_server import LocalServer
from desktop.remote_switch import is_remote, parse_remote, remote_path

SHOTS = Path(os.environ.get("GLASSBOX_SHOTS", "/tmp/shots21r"))
WAIT_MS = 90_000


@pytest.fixture
def server(glassbox_home: Path) -> Iterator[LocalServer]:
    # Before the window (list it first): the thread checks count only what the window starts.
    # One reply first: the server's worker threads start now, not under the window's watch.
    with LocalServer(ServerConfig(port=0)) as srv:
        with RemoteEngine(srv.url + "/v1") as warm:
            assert warm.next_token("Hi", top=2).alternatives > 0
        yield srv


def test_remote_paths_name_the_engine_and_the_model() -> None:
    path = remote_path("gpu-box", "org/model-7b")
    assert is_remote(path) and not is_remote("/models/a.gguf")
    assert parse_remote(path) == ("gpu-box", "org/model-7b")
    assert parse_remote("remote:box") == ("box", None)


def test_chat_and_learn_on_a_remote_engine(qtbot: QtBot, server: LocalServer,
                                           open_window: OpenWindow) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    window = open_window()
    assert window.engine is not None and window.models is not None
    local_path = window.models.model.path if window.models.model else ""
    assert local_path and not is_remote(local_path)

    # -- Models tab: add the engine, test it --------------------------------------------
    panel = window.models_panel
    window.tabs.setCurrentWidget(panel)
    view = panel.engines
    panel.tabs.setCurrentWidget(view)
    view.name_edit.setText("box")
    view.url_edit.setText(server.url + "/v1")
    qtbot.mouseClick(view.add_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.table.rowCount() == 1 and view.selected() == "box",
                    timeout=WAIT_MS)
    assert view.table.item(0, 1).text() == server.url + "/v1"  # type: ignore[union-attr]
    assert view.table.item(0, 4).text() == "no API key"  # type: ignore[union-attr]
    assert view.name_edit.text() == "" and view.key_edit.text() == ""
    qtbot.mouseClick(view.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "chat:" in view.steps.text(), timeout=WAIT_MS)
    steps = view.steps.text()
    for step in ("reachable", "auth", "models", "chat", "logprobs"):
        assert f"✓ {step}:" in steps, steps
    window.resize(1280, 860)
    panel.grab().save(str(SHOTS / "models_remote_engines.png"))

    # -- the chat's picker lists the server's models; pick one and ask ------------------
    picker = window.model_picker
    qtbot.waitUntil(lambda: any(p.startswith("remote:box/") for p in picker.paths()),
                    timeout=WAIT_MS)
    remote = next(p for p in picker.paths() if p.startswith("remote:box/"))
    assert local_path in picker.paths()  # listed together
    picker.choose_path(remote)
    qtbot.waitUntil(lambda: window.models is not None and window.models.model is not None
                    and window.models.model.path == remote, timeout=WAIT_MS)
    assert window.status.model_label.text().startswith(remote)
    window.tabs.setCurrentIndex(0)
    asked = len(server.log.recent())
    send_and_wait(qtbot, window, "Say hello to the server.")
    records = server.log.recent()
    chats = [r for r in records[:len(records) - asked] if r.path == "/v1/chat/completions"]
    assert chats, [r.path for r in records]
    assert any(m.get("content") == "Say hello to the server." for m in chats[0].messages or [])
    reply = stored_messages(window.chats.current_chat_id)[-1]  # type: ignore[union-attr]
    assert reply.role == "assistant" and reply.status == "complete"
    assert reply.content == chats[0].reply

    # -- Learn: Next token from the server's top log-probabilities ----------------------
    window.tabs.setCurrentWidget(window.learn)
    nxt = window.learn.show_next_token()
    nxt.set_prompt("The capital of France is")
    qtbot.waitUntil(lambda: "alternatives from the server" in nxt.source_label.text(),
                    timeout=WAIT_MS)
    note = nxt.source_label.text()
    assert note.split()[2] == "12" and int(note.split()[0]) > 0, note  # "N of 12 …"
    assert nxt.bars.isEnabled()
    # No ids from a server: each candidate keeps its own probability (text tells them apart).
    from ui.learn.next_token_panel import chart_rows

    assert nxt._view is not None
    assert [final for c, final in chart_rows(nxt._view)] == [c.prob for c in nxt._view.raw]
    window.grab().save(str(SHOTS / "learn_next_token_remote.png"))

    # -- Attention needs a local model: said plainly, with a button that loads one ------
    attention = window.learn.show_attention()
    attention.capture_requested.emit("Hello world")
    banner = window.error_banner
    qtbot.waitUntil(lambda: "needs a local model" in banner.message(), timeout=WAIT_MS)
    assert banner.action() == "Load the local model"
    window.grab().save(str(SHOTS / "learn_attention_remote.png"))
    qtbot.mouseClick(banner.action_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.models is not None and window.models.model is not None
                    and window.models.model.path == local_path, timeout=WAIT_MS)

    # -- back on the local model: replies no longer reach the server --------------------
    window.tabs.setCurrentIndex(0)
    asked = len(server.log.recent())
    send_and_wait(qtbot, window, "And now locally?")
    assert not [r for r in server.log.recent()[:len(server.log.recent()) - asked]
                if r.path == "/v1/chat/completions"]
    chat_id = window.chats.current_chat_id  # type: ignore[union-attr]
    assert stored_messages(chat_id)[-1].status == "complete"
