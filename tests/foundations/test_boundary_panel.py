"""Learn › Boundary playground with its controller: real torch training on the worker thread,
real widgets (pytest-qt, offscreen)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPointF, Qt, QTimer
from pytestqt.qtbot import QtBot

from desktop.boundary_controller import BoundaryController
from ui.learn.boundary_panel import BoundaryPanel
from ui.learn.boundary_settings_view import USER_POINTS

WAIT_MS = 60_000


def _step(panel: BoundaryPanel) -> int:
    return int(panel.step_label.text().split()[1].replace(",", ""))


@pytest.fixture
def playground(qtbot: QtBot) -> Iterator[tuple[BoundaryPanel, BoundaryController, list[str]]]:
    panel = BoundaryPanel()
    qtbot.addWidget(panel)
    errors: list[str] = []
    controller = BoundaryController(panel, errors.append)
    controller.start()
    panel.resize(1100, 700)
    panel.show()  # the first show builds the first network
    qtbot.waitUntil(lambda: panel.plot.images_shown > 0, timeout=WAIT_MS)
    yield panel, controller, errors
    controller.stop()
    assert not controller.worker_thread.isRunning()


def test_step_redraws_the_boundary_and_the_accuracy(qtbot: QtBot, playground: tuple) -> None:
    panel, _, errors = playground
    assert _step(panel) == 0 and "%" in panel.accuracy_label.text()
    drawn, before = panel.plot.images_shown, panel.accuracy_label.text()
    panel.step_button.click()
    qtbot.waitUntil(lambda: _step(panel) == 1, timeout=WAIT_MS)
    assert panel.plot.images_shown == drawn + 1
    assert panel.accuracy_label.text() != before  # 72.1% train after one step, from 50%
    assert panel.moves_label.text().startswith("layer 1: ") and "output: " in \
        panel.moves_label.text()
    assert panel.neurons.shape == [8, 8]  # two hidden layers of 8 neurons, a map each
    assert panel.loss.steps == [1]
    assert errors == []


def test_play_then_pause_while_the_gui_keeps_ticking(qtbot: QtBot, playground: tuple) -> None:
    panel, controller, _ = playground
    ticks = [0]
    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(5)  # as bench/gui_stall.py; the stall itself is measured there
    heartbeat.timeout.connect(lambda: ticks.__setitem__(0, ticks[0] + 1))
    heartbeat.start()
    panel.play_button.click()
    assert controller.playing and panel.pause_button.isEnabled()
    qtbot.waitUntil(lambda: _step(panel) >= 100, timeout=WAIT_MS)  # a second or more
    beats_while_training = ticks[0]
    panel.pause_button.click()
    qtbot.waitUntil(lambda: not controller.playing, timeout=WAIT_MS)
    heartbeat.stop()
    # The event loop kept running while the network trained (about 200 beats on an idle
    # machine; a frozen loop would give one or two).
    assert beats_while_training > 5
    assert panel.play_button.isEnabled() and not panel.pause_button.isEnabled()
    paused_at = _step(panel)
    assert panel.loss.steps == list(range(1, paused_at + 1))  # every step reached the curve
    assert panel.loss.draws < paused_at  # redrawn a few times a second, not every step
    qtbot.wait(300)
    assert _step(panel) == paused_at  # paused means paused


def test_a_diverging_learning_rate_stops_with_the_explanation(qtbot: QtBot,
                                                              playground: tuple) -> None:
    panel, controller, _ = playground
    panel.settings.optimizer_box.setCurrentText("SGD")
    panel.settings.set_learning_rate(1e9)
    qtbot.waitUntil(lambda: _step(panel) == 0 and panel.step_button.isEnabled(),
                    timeout=WAIT_MS)
    panel.play_button.click()
    qtbot.waitUntil(lambda: "diverged" in panel.message.text(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not controller.playing, timeout=WAIT_MS)
    assert panel.message.isVisibleTo(panel) and "Lower the learning rate" in \
        panel.message.text()
    assert not panel.play_button.isEnabled() and not panel.step_button.isEnabled()
    assert "diverged" in panel.loss_label.text() and panel.loss.steps  # the blow-up is shown
    panel.reset_button.click()  # Reset with a sane rate trains again
    panel.settings.set_learning_rate(0.03)
    qtbot.waitUntil(lambda: panel.step_button.isEnabled() and not panel.message.isVisible(),
                    timeout=WAIT_MS)


def test_clicked_points_of_one_class_are_refused_then_train(qtbot: QtBot,
                                                            playground: tuple) -> None:
    panel, _, _ = playground
    panel.settings.dataset_box.setCurrentIndex(panel.settings.dataset_box.findData(USER_POINTS))
    qtbot.waitUntil(lambda: "no points" in panel.message.text(), timeout=WAIT_MS)
    view = panel.plot.plot().getPlotItem().getViewBox()
    viewport = panel.plot.plot().viewport()

    def click(x: float, y: float) -> None:
        spot = panel.plot.plot().mapFromScene(view.mapViewToScene(QPointF(x, y)))
        qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=spot)

    for x in (-0.8, -0.6, -0.7):
        click(x, 0.5)
    qtbot.waitUntil(lambda: "All 3 points are of class 0" in panel.message.text(),
                    timeout=WAIT_MS)
    assert not panel.step_button.isEnabled()
    panel.settings.click_class.setCurrentIndex(1)
    for x in (0.6, 0.8, 0.7):
        click(x, -0.5)
    qtbot.waitUntil(lambda: panel.step_button.isEnabled() and not panel.message.isVisible(),
                    timeout=WAIT_MS)
    panel.step_button.click()
    qtbot.waitUntil(lambda: _step(panel) == 1, timeout=WAIT_MS)
