"""A remote engine in the window beyond plain chat: Compare puts the local model and a server's
model side by side, and a chat with documents on the remote model retrieves here and sends the
passages there. The server is a real `glassbox serve` on 127.0.0.1 over the same bundled model,
so greedy columns must agree word for word."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from guitools import OpenWindow, send_and_wait, stored_messages
from pytestqt.qtbot import QtBot

from core.api import RemoteEngine
from core.rag.library import DocumentLibrary
from core.remote_engines import EngineRegistry
from core.server.config import ServerConfig
from core.server.local_server import LocalServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rag"))
from rag_files import FREEDONIA, write_corpus  # noqa: E402

SHOTS = Path(os.environ.get("GLASSBOX_SHOTS", "/tmp/shots21r"))
WAIT_MS = 120_000
QUESTION = "What is the capital of Freedonia?"


@pytest.fixture
def server(glassbox_home: Path) -> Iterator[LocalServer]:
    # Started before the window, and warmed: its threads are not the window's to account for.
    with LocalServer(ServerConfig(port=0)) as srv:
        with RemoteEngine(srv.url + "/v1") as warm:
            assert warm.next_token("Hi", top=2).alternatives > 0
        yield srv


def _chats_sent(server: LocalServer, before: int) -> list[object]:
    records = server.log.recent()  # newest first
    return [r for r in records[:len(records) - before] if r.path == "/v1/chat/completions"]


def test_compare_and_grounded_chat_on_a_remote_engine(
        qtbot: QtBot, server: LocalServer, open_window: OpenWindow, tmp_path: Path) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    write_corpus(tmp_path / "docs")
    with DocumentLibrary() as library:
        library.add_paths("atlas", [tmp_path / "docs"])
        assert library.index("atlas").failed == 0
    EngineRegistry().add("box", server.url + "/v1")  # saved before the window opens

    window = open_window()
    assert window.models is not None and window.models.model is not None
    assert window.compare is not None
    local = window.models.model.path
    picker = window.model_picker
    qtbot.waitUntil(lambda: any(p.startswith("remote:box/") for p in picker.paths()),
                    timeout=WAIT_MS)
    remote = next(p for p in picker.paths() if p.startswith("remote:box/"))

    # -- Compare: the chat's (local) model beside the server's, both greedy ----------------
    panel = window.compare_panel
    window.tabs.setCurrentWidget(panel)
    panel.column_count.setValue(2)
    panel.columns[0].set_spec("Here", None, 0.0)
    panel.columns[1].set_spec("There", None, 0.0, remote)
    assert panel.columns[1].spec()["model_path"] == remote  # listed, not added by set_spec
    assert panel.columns[1].model_combo.findData(remote) >= 0
    panel.set_prompt("Name three colours of the rainbow.")
    asked = len(server.log.recent())
    with qtbot.waitSignal(window.compare.run_finished, timeout=WAIT_MS * 2) as done:
        panel.submit()
    assert isinstance(done.args[0], int)  # saved
    here, there = panel.visible_columns()
    assert here.text().strip() and here.text() == there.text()
    assert there.model_label.text() == remote
    assert here.model_label.text() == window.models.name_of_path(local)
    assert "token" in there.stats_label.text()
    assert len(_chats_sent(server, asked)) == 1  # only the remote column went there
    window.resize(1280, 860)
    window.grab().save(str(SHOTS / "compare_local_remote.png"))
    assert window.models.model.path == local  # the chat kept its model

    # -- grounded chat on the remote model ------------------------------------------------
    window.tabs.setCurrentIndex(0)
    picker.choose_path(remote)
    qtbot.waitUntil(lambda: window.models is not None and window.models.model is not None
                    and window.models.model.path == remote, timeout=WAIT_MS)
    button = window.collections_button
    qtbot.waitUntil(lambda: "atlas" in [a.text() for a in button.menu().actions()],
                    timeout=WAIT_MS)
    next(a for a in button.menu().actions() if a.text() == "atlas").trigger()
    qtbot.waitUntil(lambda: not window.store_busy())
    asked = len(server.log.recent())
    send_and_wait(qtbot, window, QUESTION)
    chat_id = window.chats.current_chat_id  # type: ignore[union-attr]
    user, reply = stored_messages(chat_id)[-2:]
    assert user.content == QUESTION and reply.status == "complete"
    assert reply.grounding is not None  # retrieved here
    sent = _chats_sent(server, asked)
    assert len(sent) == 1
    prompt_text = "\n".join(str(m.get("content")) for m in sent[0].messages or [])  # type: ignore[attr-defined]
    assert FREEDONIA in prompt_text and QUESTION in prompt_text  # the passages went there
    assert reply.content == sent[0].reply  # type: ignore[attr-defined]
    assert "Sources: [1] atlas.pdf, page 2" in window.chat_view.toPlainText()
    window.grab().save(str(SHOTS / "grounded_chat_remote.png"))
