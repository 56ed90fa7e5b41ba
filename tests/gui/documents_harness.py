"""The Documents panel and its controller on their own, as the window wires them: opened for a
test and, at its end, stopped and checked for anything that outlived them (a parser or engine
child, a Python thread). Shared by the Documents tab's test modules."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable

from pytestqt.qtbot import QtBot

from desktop.documents_controller import DocumentsController
from ui.documents_panel import DocumentsPanel


class DocumentsHarness:
    def __init__(self, qtbot: QtBot, size: tuple[int, int]) -> None:
        self._qtbot = qtbot
        self._size = size
        self._opened: list[DocumentsController] = []
        self._threads_before = set(threading.enumerate())
        self._children_before = set(multiprocessing.active_children())

    def open(self, errors: list[str],
             wire: Callable[[DocumentsController], object] = lambda _c: None,
             ) -> tuple[DocumentsPanel, DocumentsController]:
        """A shown panel and its started controller; `wire` connects to the controller's
        signals before it starts, errors shown to the user go to `errors`."""
        panel = DocumentsPanel()
        self._qtbot.addWidget(panel)
        panel.resize(*self._size)
        panel.show()
        self._qtbot.waitExposed(panel)
        controller = DocumentsController(panel, errors.append)
        wire(controller)
        controller.start()
        self._qtbot.waitUntil(lambda: controller.ready)
        self._opened.append(controller)
        return panel, controller

    def close(self) -> None:
        for controller in self._opened:
            controller.stop()
            assert not controller.worker_thread.isRunning()
            assert not controller.handle.summaries_thread.isRunning()
        assert set(multiprocessing.active_children()) == self._children_before, \
            "a parser or engine child outlived the panel"
        # The worker QThread starts the folder watcher's threads, so Python lists it as a
        # _DummyThread for good; the QThreads themselves were checked above.
        leftover = [t for t in set(threading.enumerate()) - self._threads_before
                    if t.is_alive() and not isinstance(t, threading._DummyThread)]
        assert not leftover, f"Python threads left running: {leftover}"
