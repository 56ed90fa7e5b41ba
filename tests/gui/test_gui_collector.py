"""The cycle collector runs on the GUI thread only (desktop/gui_collector.py)."""

from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtCore import QObject
from pytestqt.qtbot import QtBot

from desktop.gui_collector import GuiThreadCollector


class _Cycle:
    """Garbage only the cycle collector frees, holding a Qt object as widgets' wrappers do."""

    def __init__(self) -> None:
        self.me = self
        self.qt = QObject()


def _allocate_garbage_in_a_thread() -> list[str]:
    """Make far more cyclic garbage than a threshold, in a worker thread; returns the threads
    a collection ran on meanwhile."""
    seen: list[str] = []

    def note(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(threading.current_thread().name)

    def work() -> None:
        for _ in range(20_000):
            pair: list[object] = []
            pair.append(pair)

    gc.callbacks.append(note)
    try:
        worker = threading.Thread(target=work, name="worker")
        worker.start()
        worker.join()
    finally:
        gc.callbacks.remove(note)
    return seen


def test_garbage_is_collected_on_the_gui_thread_never_on_a_worker(qtbot: QtBot) -> None:
    gc.enable()  # as a fresh process starts; the suite itself runs with it off
    try:
        collector = GuiThreadCollector(interval_ms=50)
        assert not gc.isenabled()
        ref = weakref.ref(_Cycle())
        assert _allocate_garbage_in_a_thread() == []  # the worker never collects
        assert ref() is not None
        qtbot.waitUntil(lambda: ref() is None, timeout=5000)  # the GUI thread's timer did
        collector.stop()
        assert gc.isenabled()  # as it was before
    finally:
        gc.disable()


def test_without_it_a_worker_thread_collects() -> None:
    """Why the collector exists: left automatic, collection runs on whichever thread."""
    gc.enable()
    try:
        assert "worker" in _allocate_garbage_in_a_thread()
    finally:
        gc.disable()
