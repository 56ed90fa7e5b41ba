"""Widgets and panels: views that take plain data and emit the user's intents as signals."""

from ui.qt_compat import pin_singletons

# Before any widget runs: PySide6 6.12 on Python 3.11 leaks references to None and True.
pin_singletons()
