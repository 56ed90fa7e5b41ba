"""No widget of the window ever shows as a window of its own (found by a fresh-clone run: a
Learn tab's parentless QStackedLayout showed its first page as a second top-level window for a
moment, which took the keyboard focus from the main window). An event filter on the
application records every window shown while the main window is built, started and each tab
and Learn tab is opened in turn: the main window must be the only one."""

from __future__ import annotations

from guitools import OpenWindow
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

PASSING = (Qt.WindowType.Popup, Qt.WindowType.ToolTip)  # menus, completers and tooltips


class ShownWindows(QObject):
    """Names every top-level widget that receives a Show event."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[tuple[QWidget, str]] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if (event.type() == QEvent.Type.Show and isinstance(watched, QWidget)
                and watched.isWindow() and watched.windowType() not in PASSING):
            self.shown.append((watched, f"{type(watched).__name__} "
                                        f"{watched.objectName()!r} {watched.windowTitle()!r}"))
        return False


def test_no_tab_opens_a_window_of_its_own(qtbot: QtBot, qapp: QApplication,
                                          open_window: OpenWindow) -> None:
    spy = ShownWindows()
    qapp.installEventFilter(spy)
    try:
        window = open_window()
        for index in range(window.tabs.count()):
            window.tabs.setCurrentIndex(index)
            qtbot.wait(30)
        window.tabs.setCurrentWidget(window.learn)
        for index in range(window.learn.count()):
            window.learn.setCurrentIndex(index)
            qtbot.wait(30)
    finally:
        qapp.removeEventFilter(spy)
    others = [name for widget, name in spy.shown if widget is not window]
    assert others == []
