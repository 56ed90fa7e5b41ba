"""A borderless strip tinted from the window's palette: the base of the inline bars (an error,
a hint) that sit above a view instead of interrupting it with a dialog."""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QFrame, QWidget

from ui.message_render import mix


class TintedBar(QFrame):
    """Its background is the window colour mixed with `tint` by `strength`, worked out again
    when the theme changes, so it reads the same in light and dark themes."""

    def __init__(self, tint: QColor, strength: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tint = tint
        self._strength = strength
        self._applying_colors = False
        self.setAutoFillBackground(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self._apply_colors()

    def _apply_colors(self) -> None:
        # Only the two roles set here are its own; the rest follow the palette around it.
        around = QGuiApplication.palette()
        window = around.color(QPalette.ColorRole.Window)
        palette = QPalette()
        palette.setResolveMask(0)
        palette.setColor(QPalette.ColorRole.Window, mix(window, self._tint, self._strength))
        palette.setColor(QPalette.ColorRole.WindowText, around.color(QPalette.ColorRole.Text))
        self._applying_colors = True
        self.setPalette(palette)
        self._applying_colors = False

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        super().changeEvent(event)
        # A child with a palette of its own never gets ApplicationPaletteChange; it gets this
        # when the palette around it changes (light/dark), and when it sets its own (skipped).
        if event.type() == QEvent.Type.PaletteChange and not self._applying_colors:
            self._apply_colors()
