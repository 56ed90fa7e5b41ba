"""Waiting in a test for a signal that a worker thread emits.

qtbot.waitSignal connects a plain function, which PySide calls on the emitting thread: it then
stops the test's timer and quits its event loop from the worker thread (Qt warns "Timers cannot
be stopped from another thread") and races the GUI thread. Here the signal goes to a QObject of
the GUI thread, so it arrives queued, in order with the window's own slots.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QObject, SignalInstance
from pytestqt.qtbot import QtBot


class Heard(QObject):
    """The first emission's arguments (`args`, as pytest-qt's blocker has them)."""

    def __init__(self) -> None:
        super().__init__()
        self.args: list[Any] | None = None

    def receive(self, *args: Any) -> None:
        if self.args is None:
            self.args = list(args)


@contextmanager
def waiting_for(qtbot: QtBot, signal: SignalInstance, timeout: int) -> Iterator[Heard]:
    """Like `with qtbot.waitSignal(signal, timeout=...)`, for a signal of another thread."""
    heard = Heard()
    signal.connect(heard.receive)
    try:
        yield heard
        qtbot.waitUntil(lambda: heard.args is not None, timeout=timeout)
    finally:
        signal.disconnect(heard.receive)
