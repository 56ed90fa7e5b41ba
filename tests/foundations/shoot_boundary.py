"""Run by hand: the README's pictures of the boundary playground (not part of `make test`).

    PYTHONPATH=. QT_QPA_PLATFORM=offscreen python tests/foundations/shoot_boundary.py FOLDER

Writes FOLDER/boundary-steps.png (two moons at steps 1, 30 and 300, side by side, as the
default network learns them) and FOLDER/learn-boundary.png (the whole panel at step 300).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QPointF, QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication

import ui  # noqa: F401  (the PySide6 reference-count work-around, before any widget)
from desktop.boundary_controller import BoundaryController
from ui.learn.boundary_panel import BoundaryPanel
from ui.theme import apply_theme

STEPS = (1, 30, 300)
CAPTION = 34


def main(folder: Path) -> None:
    app = QApplication([])
    app.setStyle("Fusion")
    apply_theme(app, dark=False)
    panel = BoundaryPanel()
    panel.resize(1240, 760)
    controller = BoundaryController(panel, print)
    controller.start()
    panel.show()

    def wait(done: object) -> None:
        deadline = time.monotonic() + 300
        while not done() and time.monotonic() < deadline:  # type: ignore[operator]
            app.processEvents()
            time.sleep(0.005)
        if not done():  # type: ignore[operator]
            raise SystemExit("timed out")

    def step_number() -> int:
        return int(panel.step_label.text().split()[1].replace(",", ""))

    wait(lambda: panel.plot.images_shown > 0 and not controller.handle.busy)
    shots = []
    for target in STEPS:
        while step_number() < target:
            for _ in range(target - step_number()):
                controller.step()
            wait(lambda: not controller.handle.busy)
        app.processEvents()
        shots.append((_data_area(panel), f"step {target}: "
                      f"{panel.accuracy_label.text().replace('accuracy: ', '')}"))
    folder.mkdir(parents=True, exist_ok=True)
    assert panel.grab().save(str(folder / "learn-boundary.png"))
    width = sum(image.width() for image, _ in shots)
    height = max(image.height() for image, _ in shots) + CAPTION
    sheet = QImage(width, height, QImage.Format.Format_RGB32)
    sheet.fill(QColor("white"))
    painter = QPainter(sheet)
    font = painter.font()
    font.setPointSize(11)
    painter.setFont(font)
    x = 0
    for image, caption in shots:
        painter.drawImage(x, CAPTION, image)
        painter.drawText(QRect(x, 0, image.width(), CAPTION), Qt.AlignmentFlag.AlignCenter,
                         caption)
        x += image.width()
    painter.end()
    assert sheet.save(str(folder / "boundary-steps.png"))
    controller.stop()
    panel.close()


def _data_area(panel: BoundaryPanel) -> QImage:
    """The plot cut to the data's bounds (the aspect lock leaves blank bands around them)."""
    widget = panel.plot.plot()
    box = widget.getPlotItem().getViewBox()
    x0, x1, y0, y1 = panel.plot.bounds
    corners = [widget.mapFromScene(box.mapViewToScene(QPointF(x, y)))
               for x, y in ((x0, y1), (x1, y0))]
    area = QRect(corners[0], corners[1]).adjusted(-6, -6, 6, 6)
    return widget.grab(area).toImage()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
