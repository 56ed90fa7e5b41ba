"""The Tiny transformer tab: trains a small model in a child process from the panel, draws
the loss curves, samples, attention maps and embedding map, keeps the window responsive, and
saves a GGUF it offers to load as the chat model."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot

from core.foundations import tiny_events as ev
from desktop.tiny_gpt_controller import TinyGptController
from ui.learn.tiny_gpt_panel import TinyGptPanel


@pytest.fixture
def lab(qtbot: QtBot, model_path: Path) -> Iterator[tuple[TinyGptPanel, TinyGptController]]:
    panel = TinyGptPanel()
    qtbot.addWidget(panel)
    controller = TinyGptController(panel, lambda message: pytest.fail(message),
                                   lambda: str(model_path))
    controller.start()
    panel.resize(1200, 800)
    panel.show()
    yield panel, controller
    controller.stop()


def _small(panel: TinyGptPanel, steps: int) -> None:
    panel.layers.setValue(1)
    panel.heads.setValue(2)
    panel.width_box.setCurrentIndex(panel.width_box.findData(64))
    panel.context.setValue(16)
    panel.steps.setValue(steps)


def test_the_panel_trains_draws_and_stays_responsive(
        qtbot: QtBot, lab: tuple[TinyGptPanel, TinyGptController], tmp_path: Path) -> None:
    panel, controller = lab
    assert panel.source_box.currentData() == "sample:lighthouse"
    _small(panel, 30)
    assert "parameters in the layers" in panel.parameters.text()
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    heartbeat = QTimer()
    heartbeat.setInterval(5)
    heartbeat.timeout.connect(tick)
    heartbeat.start()
    began = time.perf_counter()
    panel.train_button.click()
    assert not panel.train_button.isEnabled() and panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not controller.running, timeout=120_000)
    took = time.perf_counter() - began
    heartbeat.stop()
    end = controller.events[-1]
    assert isinstance(end, ev.Finished) and end.ok, end
    # trained off the GUI thread: the heartbeat ticked all along (a run on the GUI thread
    # would leave one gap as long as the run)
    assert len(gaps) > 20 and max(gaps) < took / 4
    steps = [p for p, _ in panel.loss.train]
    assert steps == list(range(1, 31))
    assert panel.loss.held_out[0][0] == 0 and panel.loss.held_out[-1][0] == 30
    assert panel.loss.made and panel.loss.unigram is not None
    assert [s[0] for s in panel.samples.samples][0] == 0
    assert panel.samples.samples[0][2] != panel.samples.samples[-1][2]
    assert "step 30" in panel.samples.toPlainText()
    assert panel.attention.maps is not None and panel.attention.plot is not None
    assert panel.attention.head_box.count() == 2  # 1 layer x 2 heads
    assert panel.embeddings.points is not None and panel.embeddings.made
    assert "parameters trained" in panel.parameters.text()
    assert panel.save_button.isEnabled() and not panel.load_button.isEnabled()
    panel.grab().save(str(tmp_path / "tiny-gpt-panel.png"))

    panel.name_edit.setText("panel-test")
    panel.save_button.click()
    qtbot.waitUntil(lambda: bool(panel.exported), timeout=60_000)
    assert Path(panel.exported).is_file() and panel.load_button.isEnabled()
    with qtbot.waitSignal(controller.load_requested) as loaded:
        panel.load_button.click()
    assert loaded.args == [panel.exported]


def test_pause_then_cancel_keeps_a_checkpoint(
        qtbot: QtBot, lab: tuple[TinyGptPanel, TinyGptController]) -> None:
    panel, controller = lab
    _small(panel, 5000)
    panel.train_button.click()
    qtbot.waitUntil(lambda: any(isinstance(e, ev.Step) and e.step >= 3
                                for e in controller.events), timeout=60_000)
    panel.pause_button.click()
    assert panel.pause_button.text() == "Resume"
    qtbot.waitUntil(lambda: any(isinstance(e, ev.Paused) for e in controller.events),
                    timeout=30_000)
    # the status line follows at the panel's next redraw (a few times a second)
    qtbot.waitUntil(lambda: "Paused at step" in panel.status.text(), timeout=5_000)
    assert panel.save_button.isEnabled()
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: not controller.running, timeout=30_000)
    end = controller.events[-1]
    assert isinstance(end, ev.Finished) and end.status == "cancelled"
    assert end.checkpoint and Path(end.checkpoint).is_file()
    assert panel.train_button.isEnabled() and panel.pause_button.text() == "Pause"


def test_an_empty_file_is_refused_in_the_status_line(
        qtbot: QtBot, lab: tuple[TinyGptPanel, TinyGptController], tmp_path: Path) -> None:
    panel, controller = lab
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    panel.source_box.setCurrentIndex(panel.source_box.findData("file"))
    panel.source_detail.setText(str(empty))
    panel.train_button.click()
    qtbot.waitUntil(lambda: not controller.running, timeout=60_000)
    assert "The text is empty" in panel.status.text()
    assert panel.train_button.isEnabled()


def test_a_bad_model_name_is_refused_in_the_status_line(
        qtbot: QtBot, lab: tuple[TinyGptPanel, TinyGptController]) -> None:
    # the name is checked on the worker with the run folder (its module's imports stalled the
    # window): the refusal still reaches the status line and the panel is ready again
    panel, controller = lab
    panel.name_edit.setText("no spaces/or slashes")
    panel.train_button.click()
    qtbot.waitUntil(lambda: not controller.running, timeout=60_000)
    assert "cannot name a model" in panel.status.text()
    assert panel.train_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert not controller.events


def test_an_evaluations_views_are_drawn_a_frame_apart(
        qtbot: QtBot, lab: tuple[TinyGptPanel, TinyGptController]) -> None:
    """An evaluation's events come together; each redraws a view, and drawn in one event-loop
    turn they stalled the window for the sum. They reach the views one per frame, in order,
    and the run ends only after the last (what the worker's progress slot receives)."""
    import numpy as np

    panel, controller = lab
    tokens = ("The", " little", " model", ".")
    maps = np.tril(np.ones((1, 2, 4, 4), dtype=np.float32))
    maps /= maps.sum(axis=-1, keepdims=True)
    xy = np.arange(10, dtype=np.float32).reshape(5, 2)
    burst = [ev.HeldOut(5, 4.2), ev.AttentionMaps(5, tokens, maps),
             ev.Embeddings(5, ("a", "b", "c", "d", "e"), xy, (0.5, 0.25)),
             ev.Sample(5, "The", " lamp was lit."), ev.Step(6, 4.1, 1000.0)]
    ended: list[bool] = []
    for event in burst:
        controller._queue(event)
    controller._after_events(lambda: ended.append(True))
    # in this turn: the held-out loss and the attention maps, nothing after them
    assert controller.events == burst[:2]
    assert panel.attention.maps is not None and panel.embeddings.points is None
    assert not panel.samples.samples and not ended
    qtbot.waitUntil(lambda: bool(ended), timeout=5_000)
    assert controller.events == burst
    assert panel.embeddings.points is not None and panel.samples.samples[0][0] == 5
    assert panel.loss.train[-1] == (6, 4.1)
