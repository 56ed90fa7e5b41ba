"""Python's cycle collector, run on the GUI thread only.

Left automatic, the collector runs in whichever thread allocates when a threshold is passed: an
engine worker reading from its pipe could then finalize widgets and other Qt objects of the GUI
thread, which Qt does not allow. The test suite crashed that way ("Garbage-collecting" in the
engine worker while the window waited for a capture). So automatic collection is switched off
and a GUI-thread timer collects when the counts say it is due, by the collector's own rule.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500


def collect_if_due() -> int | None:
    """Collect the oldest generation whose count has passed its threshold, as the automatic
    collector would; returns that generation, or None when nothing is due."""
    counts, thresholds = gc.get_count(), gc.get_threshold()
    for generation in (2, 1, 0):
        if counts[generation] > thresholds[generation]:
            gc.collect(generation)
            return generation
    return None


class GuiThreadCollector(QObject):
    """Switches automatic collection off while it lives, and collects from the GUI thread."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(collect_if_due)
        self._timer.start(interval_ms)

    def stop(self) -> None:
        """Stop collecting here; automatic collection comes back if it was on before."""
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()
