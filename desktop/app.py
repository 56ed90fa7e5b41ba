"""Start the desktop app: the window shows first, the workers start right after."""

from __future__ import annotations

import logging

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from desktop.main_window import MainWindow


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
    window = MainWindow()
    window.show()
    QTimer.singleShot(0, window.start)
    app.aboutToQuit.connect(window.shutdown)
    return app.exec()
