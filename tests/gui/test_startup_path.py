"""Cold start (issue 16): the window paints with the Chat tab only; the other tabs, the dialogs
and the controllers are built after the first paint, and nothing changes for the user."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from desktop.app import AfterFirstPaint
from desktop.main_window import MainWindow

REPO = Path(__file__).resolve().parents[2]
LATER = ("ui.learn.learn_panel", "ui.documents_panel", "ui.models_panel", "ui.compare_panel",
         "ui.presets_dialog", "ui.sampling_dialog", "desktop.chat_controller",
         "desktop.store_worker", "desktop.engine_worker", "desktop.documents_controller",
         "desktop.models_library_controller", "desktop.compare_controller",
         "ui.server_panel", "desktop.server_controller", "core.server", "fastapi", "uvicorn",
         # imported by the chat tab only for types, or with the first grounded reply / code block
         "core.store", "apsw", "core.rag.grounding", "core.engine.types", "pygments")


def test_the_window_module_leaves_the_later_tabs_and_controllers_unimported() -> None:
    code = f"import sys, desktop.app; print([m for m in {LATER!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "[]"


def test_a_tab_opened_before_start_is_built_in_place(qtbot: QtBot) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles == ["Chat", "Learn", "Documents", "Models", "Compare", "Server", "Evaluate"]
    assert not hasattr(window, "learn")  # built after the first paint
    window.show()
    qtbot.waitExposed(window)
    window.tabs.setCurrentIndex(2)  # Ctrl+3, before the workers start
    assert window.tabs.currentWidget() is window.documents
    pages = [window.tabs.widget(i) for i in range(1, 6)]
    assert pages == [window.learn, window.documents, window.models_panel, window.compare_panel,
                     window.server_panel]
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == titles
    window.tabs.setCurrentWidget(window.compare_panel)  # its models list is filled on show
    assert window.tabs.currentIndex() == 4
    window.close()  # never started: nothing to stop


class _Painted(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.paints = 0

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        self.paints += 1
        super().paintEvent(event)


def test_the_workers_start_after_the_first_paint(qtbot: QtBot) -> None:
    widget = _Painted()
    qtbot.addWidget(widget)
    paints_when_called: list[int] = []
    AfterFirstPaint(widget, lambda: paints_when_called.append(widget.paints))
    widget.show()
    qtbot.waitUntil(lambda: bool(paints_when_called), timeout=5000)
    assert paints_when_called[0] >= 1
    widget.update()
    qtbot.wait(50)
    assert len(paints_when_called) == 1  # once


def test_a_window_never_painted_still_starts(qtbot: QtBot) -> None:
    widget = QWidget()  # never shown, as when started minimized
    qtbot.addWidget(widget)
    called: list[bool] = []
    AfterFirstPaint(widget, lambda: called.append(True), latest_ms=50)
    qtbot.waitUntil(lambda: bool(called), timeout=5000)
    qtbot.wait(100)
    assert called == [True]
