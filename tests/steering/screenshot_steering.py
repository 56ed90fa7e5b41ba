"""Run by hand: the README's screenshot of a steering run (resources/screenshots/steering.png).

    PYTHONPATH=. QT_QPA_PLATFORM=offscreen .venv/bin/python tests/steering/screenshot_steering.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

from core.models.bundled import default_chat_model
from desktop.steering_controller import SteeringController
from ui.learn.steering_panel import SteeringPanel

OUT = Path(__file__).resolve().parents[2] / "resources" / "screenshots" / "steering.png"


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    panel = SteeringPanel()
    panel.resize(1400, 820)
    errors: list[str] = []
    controller = SteeringController(panel, errors.append, lambda: str(default_chat_model()))
    controller.reply_tokens = 28
    panel.show()

    def wait(done) -> None:  # type: ignore[no-untyped-def]
        while not done() and not errors:
            app.processEvents()
            time.sleep(0.05)  # leave the cores to the engine child
    try:
        panel.pairs_box.setCurrentIndex(0)  # the positive/negative starter set
        controller.build(str(panel.pairs_box.currentData()))
        wait(lambda: controller.direction is not None)
        panel.first_layer.setValue(10)
        panel.last_layer.setValue(20)
        panel.strength.setValue(20)
        panel.run_button.click()
        wait(lambda: controller.run_result is not None)
        for _ in range(20):
            app.processEvents()
        if errors:
            print(errors)
            return 1
        OUT.parent.mkdir(parents=True, exist_ok=True)
        panel.grab().save(str(OUT))
        print(OUT)
        return 0
    finally:
        controller.stop()


if __name__ == "__main__":
    raise SystemExit(main())
