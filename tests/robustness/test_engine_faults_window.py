"""Engine faults seen from the window: the engine child killed mid-reply, a model that crashed
last time. The window says what happened, offers a restart, keeps every committed message,
and the next launch does not load the crashed model on its own."""

from __future__ import annotations

import importlib.util
import os
import signal
import sys

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from qt_waits import waiting_for
from stress_level import ROOT

_GUI = ROOT / "tests" / "gui"
sys.path.insert(0, str(_GUI))
_spec = importlib.util.spec_from_file_location("gui_fixtures", _GUI / "conftest.py")
assert _spec is not None and _spec.loader is not None
gui_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gui_fixtures)
# The GUI suite's window fixtures, used here as they are (they check nothing outlives a test).
fast_settings = gui_fixtures.fast_settings
fusion_style = gui_fixtures.fusion_style
no_sample_guide = gui_fixtures.no_sample_guide
open_window = gui_fixtures.open_window

from guitools import (  # noqa: E402
    LONG_SAMPLING,
    REPLY_TIMEOUT_MS,
    STARTUP_TIMEOUT_MS,
    OpenWindow,
    send_and_wait,
    stored_messages,
    wait_for_chat,
    write_settings,
)

from core.config import database_path  # noqa: E402
from core.models.bundled import default_chat_model  # noqa: E402
from core.settings import RecentModels, read  # noqa: E402
from core.store import ChatStore  # noqa: E402
from desktop.model_controller import LOAD_ANYWAY, RESTART  # noqa: E402

SHOTS = ROOT / "screenshots"


def crashed_model() -> str | None:
    with ChatStore(database_path()) as store:
        return read(store.settings, RecentModels).crashed


def test_engine_killed_mid_reply_keeps_the_chat_and_offers_a_restart(
        qtbot: QtBot, open_window: OpenWindow) -> None:
    write_settings(sampling=LONG_SAMPLING)  # a reply long enough to be cut
    window = open_window()
    assert window.engine is not None and window.chats is not None
    worker = window.engine.worker
    chat_id = window.chats.current_chat_id
    window.composer.set_text("Tell me a long story about a lighthouse keeper.")
    with waiting_for(qtbot, worker.token, timeout=REPLY_TIMEOUT_MS):
        qtbot.mouseClick(window.composer.send_button, Qt.MouseButton.LeftButton)
    for _ in range(5):  # a few tokens in: the reply is really streaming
        with waiting_for(qtbot, worker.token, timeout=REPLY_TIMEOUT_MS):
            pass
    engine = worker._engine
    assert engine is not None and engine.pid is not None
    with waiting_for(qtbot, worker.model_crashed, timeout=STARTUP_TIMEOUT_MS) as crashed:
        os.kill(engine.pid, signal.SIGKILL)
    assert crashed.args is not None and crashed.args[0] == str(default_chat_model())
    banner = window.error_banner
    qtbot.waitUntil(lambda: banner.action() == RESTART, timeout=STARTUP_TIMEOUT_MS)
    assert "SIGKILL" in banner.message() and "chats are safe" in banner.message()
    assert window.models is not None and window.models.model is None
    assert window.isVisible()
    qtbot.waitUntil(lambda: not window.chats.generating and not window.store_busy(),
                    timeout=REPLY_TIMEOUT_MS)
    SHOTS.mkdir(exist_ok=True)
    window.grab().save(str(SHOTS / "engine_crash_banner.png"))
    messages = stored_messages(chat_id)
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[0].content.startswith("Tell me a long story")
    assert messages[1].status == "interrupted" and messages[1].content  # kept, marked so
    assert crashed_model() == str(default_chat_model())
    # Restart loads the model again; the chat goes on where it was.
    with waiting_for(qtbot, worker.model_loaded, timeout=STARTUP_TIMEOUT_MS):
        qtbot.mouseClick(banner.action_button, Qt.MouseButton.LeftButton)
    assert banner.isHidden()
    write_settings(sampling={"seed": 7, "max_tokens": 16, "temperature": 0.7})
    send_and_wait(qtbot, window, "And a short one?")
    after = stored_messages(chat_id)
    assert [m.id for m in after[:2]] == [m.id for m in messages]
    assert after[1].content == messages[1].content
    assert [m.status for m in after[2:]] == ["complete", "complete"]
    qtbot.waitUntil(lambda: crashed_model() is None, timeout=STARTUP_TIMEOUT_MS)


def test_the_next_launch_does_not_load_the_model_that_crashed(
        qtbot: QtBot, open_window: OpenWindow) -> None:
    # The keys an older Glassbox wrote: read through core.settings' migration.
    write_settings(last_model=str(default_chat_model()),
                   crashed_model=str(default_chat_model()))
    window = open_window(wait_ready=False)
    banner = window.error_banner
    qtbot.waitUntil(lambda: banner.action() == LOAD_ANYWAY, timeout=STARTUP_TIMEOUT_MS)
    wait_for_chat(qtbot, window)
    assert default_chat_model().name in banner.message()
    assert "was not loaded again" in banner.message()
    assert window.models is not None and window.models.model is None
    assert window.models.loading is None
    SHOTS.mkdir(exist_ok=True)
    window.grab().save(str(SHOTS / "crashed_model_not_reloaded.png"))
    assert window.engine is not None
    with waiting_for(qtbot, window.engine.worker.model_loaded, timeout=STARTUP_TIMEOUT_MS):
        qtbot.mouseClick(banner.action_button, Qt.MouseButton.LeftButton)
    assert window.models.model is not None
