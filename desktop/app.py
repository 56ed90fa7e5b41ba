"""Start the desktop app: the window shows first; the workers start after its first paint."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from core.api import data_home
from desktop.gui_collector import GuiThreadCollector
from desktop.main_window import MainWindow
from desktop.single_instance import SingleInstance, bring_to_front
from ui.theme import apply_theme

ALREADY_RUNNING = "Glassbox is already running with this data folder: its window was brought " \
    "to the front."


class AfterFirstPaint(QObject):
    """Calls `then` once, on the event-loop turn after `widget` is first painted, or after
    `latest_ms` if it never is (started minimized). A zero-delay timer set before the event loop
    runs fires before the window system's first expose (seen on xcb and offscreen), so work
    started that way delays the first paint by its whole length."""

    def __init__(self, widget: QWidget, then: Callable[[], None], latest_ms: int = 2000) -> None:
        super().__init__(widget)
        self._then: Callable[[], None] | None = then
        widget.installEventFilter(self)
        QTimer.singleShot(latest_ms, self, self._run)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self, self._run)  # after this paint reaches the screen
        return False

    def _run(self) -> None:
        then, self._then = self._then, None
        if then is not None:
            then()


def create_app(argv: list[str]) -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(argv)
    app.setApplicationName("Glassbox")
    app.setOrganizationName("Glassbox")
    # Fusion draws with our palette, light or dark as the system is (ui/theme.py).
    app.setStyle("Fusion")
    apply_theme(app)
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
    AfterFirstPaint(window, window.start)
    app.aboutToQuit.connect(window.shutdown)
    app.aboutToQuit.connect(instance.close)
    app.aboutToQuit.connect(collector.stop)
    return app.exec()
