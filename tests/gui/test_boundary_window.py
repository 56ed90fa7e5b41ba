"""Learn › Boundary playground in the real window: its tab, its worker thread, Step and Play."""

from __future__ import annotations

from guitools import OpenWindow
from pytestqt.qtbot import QtBot

WAIT_MS = 60_000


def test_boundary_playground_steps_and_plays_in_the_window(qtbot: QtBot,
                                                           open_window: OpenWindow) -> None:
    window = open_window(wait_ready=False)
    window.tabs.setCurrentWidget(window.learn)
    panel = window.learn.show_boundary()
    controller = window.boundary_controller
    assert controller is not None and controller.worker_thread.objectName() == \
        "glassbox-boundary"
    qtbot.waitUntil(lambda: panel.plot.images_shown > 0, timeout=WAIT_MS)
    panel.step_button.click()
    qtbot.waitUntil(lambda: panel.step_label.text() == "step 1", timeout=WAIT_MS)
    assert "accuracy: train" in panel.accuracy_label.text() and "%" in panel.accuracy_label.text()
    panel.play_button.click()
    qtbot.waitUntil(lambda: len(panel.loss.steps) > 20, timeout=WAIT_MS)
    # Closing the window while it trains stops the thread (the fixture checks none is left).
