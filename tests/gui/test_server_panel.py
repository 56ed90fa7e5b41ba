"""The Server tab (issue 20): start a real server from the panel, call it with the official
OpenAI client, see the request in the log, open it in Learn, stop it; an open address without
a key is refused in the panel; the choices and "it was serving" survive a restart.

Screenshots go to $GLASSBOX_SERVER_SHOTS, or the test's tmp_path, for a person to look at."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest
from guitools import REPLY_TIMEOUT_MS, STARTUP_TIMEOUT_MS, OpenWindow
from pytestqt.qtbot import QtBot

from core.api import ServerSettings, saved_settings
from core.config import database_path
from desktop.main_window import MainWindow

REPO = Path(__file__).resolve().parents[2]
SIZE = (1100, 760)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("GLASSBOX_SERVER_SHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _start(qtbot: QtBot, window: MainWindow, host: str = "127.0.0.1", key: str = "") -> None:
    panel = window.server_panel
    window.tabs.setCurrentWidget(panel)
    panel.set_settings(ServerSettings(host, 0, key, 1))  # port 0: any free port
    panel.start_button.click()
    qtbot.waitUntil(lambda: panel.running, timeout=STARTUP_TIMEOUT_MS)


def _free(port: int) -> bool:
    """Nothing listens on `port` and a server could bind it again. SO_REUSEADDR as uvicorn
    sets it: the connections the server closed linger in TIME_WAIT a while."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            probe.listen()
        except OSError:
            return False
        return True


def test_serve_call_inspect_and_stop_from_the_panel(qtbot: QtBot, open_window: OpenWindow,
                                                    shots: Path) -> None:
    window = open_window()
    window.resize(*SIZE)
    panel = window.server_panel
    assert panel.snippet("curl").startswith("curl ")  # shown before the server runs
    _start(qtbot, window)
    server = window.server.server if window.server else None
    assert server is not None and server.port > 0
    assert panel.address_edit.text() == server.url
    assert server.url in panel.state_label.text()
    assert server.url in panel.snippet("OpenAI Python")
    assert httpx.get(server.url + "/health", timeout=30).status_code == 200

    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", timeout=120)
    model = client.models.list().data[0].id
    assert model in panel.snippet("OpenAI Python") and model in panel.model_label.text()
    questions = ["What is the capital of France?", "Name a colour.", "Count to three."]
    for question in questions:
        reply = client.chat.completions.create(
            model=model, messages=[{"role": "system", "content": "Be brief."},
                                   {"role": "user", "content": question}], max_tokens=24)
        assert reply.choices[0].message.content
    client.close()
    qtbot.waitUntil(lambda: panel.record_count() >= len(questions), timeout=REPLY_TIMEOUT_MS)
    assert panel.table.item(0, 2).text() == "/v1/chat/completions"  # newest first
    assert panel.table.item(0, 3).text() == "200"

    panel.select_row(0)
    prompt = panel.prompt_text.toPlainText()
    assert "<|im_start|>user" in prompt and questions[-1] in prompt  # after the chat template
    assert questions[-1] in panel.messages_text.toPlainText()
    assert panel.reply_text.toPlainText().strip()
    assert panel.open_button.isEnabled()
    window.grab().save(str(shots / "server-panel.png"))

    panel.open_button.click()
    learn = window.learn
    assert window.tabs.currentWidget() is learn
    assert learn.currentWidget() is learn.tokenizer
    assert learn.tokenizer.text() == prompt
    assert learn.next_token.prompt() == prompt
    assert learn.surprise.text() == panel.reply_text.toPlainText()
    qtbot.waitUntil(lambda: learn.tokenizer.chips.token_count > 0, timeout=REPLY_TIMEOUT_MS)
    qtbot.waitUntil(lambda: learn.next_token.bars.bar_count() > 0, timeout=REPLY_TIMEOUT_MS)
    window.grab().save(str(shots / "learn-tokenizer-request.png"))
    learn.show_surprise()
    qtbot.wait(200)
    window.grab().save(str(shots / "learn-surprise-request.png"))

    window.tabs.setCurrentWidget(panel)
    port = server.port
    panel.start_button.click()  # now "Stop server"
    qtbot.waitUntil(lambda: not panel.running and not window.server.busy,  # type: ignore[union-attr]
                    timeout=REPLY_TIMEOUT_MS)
    assert panel.start_button.text() == "Start server"
    assert _free(port)
    print(f"\nServer panel screenshots: {shots}")


def test_an_open_address_needs_a_key_and_the_choices_survive_a_restart(
        qtbot: QtBot, open_window: OpenWindow) -> None:
    window = open_window()
    panel = window.server_panel
    window.tabs.setCurrentWidget(panel)
    panel.set_settings(ServerSettings("0.0.0.0", 0, "", 2))
    panel.start_button.click()
    assert "API key" in panel.error_banner.message()
    assert not panel.running and window.server is not None and not window.server.busy
    assert window.server.server is None

    panel.generate_button.click()
    key = panel.key_edit.text()
    assert len(key) >= 24 and key not in panel.snippet("curl")  # hidden: masked
    panel.show_key_button.click()
    assert key in panel.snippet("curl")
    _start(qtbot, window, host="127.0.0.1", key=key)
    qtbot.waitUntil(lambda: not window.store_busy(), timeout=REPLY_TIMEOUT_MS)
    saved = saved_settings().server  # the row as the CLI reads it: no key in it
    assert saved == ServerSettings("127.0.0.1", 0, "", 1, running=True)
    assert saved.key_source in ("keyring", "file")
    with sqlite3.connect(database_path()) as db:
        rows = db.execute("SELECT key, value FROM settings").fetchall()
    assert rows and not [k for k, v in rows if key in str(v)]
    window.close()  # the app quits while serving: it serves again at the next start

    again = open_window()
    qtbot.waitUntil(lambda: again.server_panel.running, timeout=STARTUP_TIMEOUT_MS)
    assert again.server_panel.settings().api_key == key
    server = again.server.server if again.server else None
    assert server is not None
    assert httpx.get(server.url + "/v1/models", timeout=30).status_code == 401
    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.get(server.url + "/v1/models", headers=headers, timeout=30).status_code == 200


def test_the_server_modules_leave_fastapi_and_uvicorn_unimported() -> None:
    code = ("import sys, desktop.server_controller, ui.server_panel; "
            "print([m for m in ('fastapi', 'uvicorn') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "[]"
