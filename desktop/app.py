"""Start the desktop app: the window shows first, the workers start right after."""

from __future__ import annotations

import logging
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from core.config import data_home
from desktop.gui_collector import GuiThreadCollector
from desktop.main_window import MainWindow
from desktop.single_instance import SingleInstance, bring_to_front

ALREADY_RUNNING = "Glassbox is already running with this data folder: its window was brought " \
    "to the front."


def create_app(argv: list[str]) -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(argv)
    app.setApplicationName("Glassbox")
    app.setOrganizationName("Glassbox")
    # Fusion draws with the palette, which follows the system's light or dark scheme.
    app.setStyle("Fusion")
    return app


def run_app(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = create_app(argv)
    instance = SingleInstance(data_home(), app)
    if instance.hand_over():
        print(ALREADY_RUNNING, file=sys.stderr)
        return 0
    collector = GuiThreadCollector(app)  # before any worker thread starts
    window = MainWindow()
    if instance.listen():
        instance.activate_requested.connect(lambda: bring_to_front(window))
    else:
        logging.getLogger(__name__).warning("could not listen as %s: a second launch will "
                                            "open a second window", instance.name)
    window.show()
    QTimer.singleShot(0, window.start)
    app.aboutToQuit.connect(window.shutdown)
    app.aboutToQuit.connect(instance.close)
    app.aboutToQuit.connect(collector.stop)
    return app.exec()
