"""By hand only (not collected by `make test`): the README screenshots of the Tiny transformer.

    QT_QPA_PLATFORM=offscreen PYTHONPATH=. .venv/bin/python -m pytest tests/gui/shots_tiny_gpt.py

Trains a model in the real window on the shipped sample, saves it as a GGUF, loads it as the
chat model, and shows it in Next token; writes resources/screenshots/tiny-gpt-*.png.
"""

from __future__ import annotations

from pathlib import Path

from guitools import REPLY_TIMEOUT_MS, OpenWindow
from pytestqt.qtbot import QtBot

SHOTS = Path(__file__).resolve().parents[2] / "resources" / "screenshots"


def test_tiny_gpt_screenshots(qtbot: QtBot, open_window: OpenWindow) -> None:
    window = open_window()
    window.resize(1400, 900)
    window.tabs.setCurrentWidget(window.learn)
    panel = window.learn.show_tiny_gpt()
    controller = window.tiny_gpt_controller
    panel.layers.setValue(2)
    panel.heads.setValue(4)
    panel.width_box.setCurrentIndex(panel.width_box.findData(128))
    panel.context.setValue(32)
    panel.steps.setValue(400)
    panel.name_edit.setText("lighthouse-tiny")
    panel.train_button.click()
    qtbot.waitUntil(lambda: not controller.running and bool(controller.events),
                    timeout=600_000)
    assert controller.events[-1].ok, controller.events[-1]
    qtbot.wait(500)
    panel.grab().save(str(SHOTS / "tiny-gpt-samples.png"))
    panel.save_button.click()
    qtbot.waitUntil(lambda: bool(panel.exported), timeout=120_000)
    exported = panel.exported
    panel.load_button.click()
    qtbot.waitUntil(lambda: window.models is not None and window.models.model is not None
                    and Path(str(window._current_model_path())) == Path(exported),
                    timeout=REPLY_TIMEOUT_MS)
    window.tabs.setCurrentWidget(window.learn)
    nxt = window.learn.show_next_token()
    nxt.set_prompt("The lighthouse keeper climbed the")
    qtbot.waitUntil(lambda: nxt.bars.bar_count() > 0, timeout=REPLY_TIMEOUT_MS)
    qtbot.wait(500)
    window.grab().save(str(SHOTS / "tiny-gpt-next-token.png"))
