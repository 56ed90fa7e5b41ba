"""A work-around for a reference-count bug of PySide6 6.12 on Python 3.11.

On this combination every Qt method that returns nothing (or a null pointer) hands back `None`
without taking a reference to it, and `SignalInstance.emit()` does the same with `True`. Each
call therefore lowers the reference count of those singletons by one; after a few thousand
calls it reaches zero and CPython aborts ("deallocating None"). Python 3.12 made these objects
immortal, which hides the bug there. On an affected interpreter we give the three singletons a
reference count so large that the leak can never reach zero; they are never freed anyway.
"""

from __future__ import annotations

import ctypes
import sys

_PIN = 1 << 40
_applied = False


def _qt_leaks_none() -> bool:
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(16):
        probe.setObjectName("refcount-probe")
    return sys.getrefcount(None) < before


def pin_singletons() -> bool:
    """Apply the work-around if this interpreter needs it. True when it was applied."""
    global _applied
    if _applied:
        return True
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False  # immortal singletons: nothing can reach zero
    if not _qt_leaks_none():
        return False
    for singleton in (None, True, False):
        # ob_refcnt is the first field of every CPython object.
        ctypes.c_ssize_t.from_address(id(singleton)).value += _PIN
    _applied = True
    return True
