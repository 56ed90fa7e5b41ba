"""The chat's Documents button: which collections the chat answers from."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QPaintEvent
from PySide6.QtWidgets import (
    QMenu,
    QSizePolicy,
    QStyle,
    QStyleOptionToolButton,
    QStylePainter,
    QToolButton,
    QWidget,
)

_NO_COLLECTIONS = "No collections yet: add documents in the Documents tab (Ctrl+3)."
_PREFIX = "Documents: "
_SHORTEST_NAME = 8  # characters of a collection's name kept when the header is crowded
_TIP = "Answer from your documents: choose the collections this chat uses"


class CollectionsButton(QToolButton):
    """A menu of checkable collection names. Emits the chosen names when the user changes them.

    The available names and the chat's choice arrive separately (from the documents worker and
    from the chat), so a chosen collection that no longer exists stays listed, marked missing,
    until the user unticks it.
    """

    chosen_changed = Signal(list)  # list[str]

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setToolTip(_TIP)
        # A crowded header (Sources open, a narrow screen) may take width from it down to
        # minimumSizeHint: it then shortens the collection's name itself ("Documents: Glassbo…"),
        # never "Documents" (Qt's own elision read "Docume… guide").
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._menu = QMenu(self)
        self.setMenu(self._menu)
        self._available: list[str] = []
        self._chosen: list[str] = []
        self._rebuild()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        # Fusion draws the menu arrow in the bottom-right corner without widening the button
        # for it: the arrow sat on the last letter ("Documents: off").
        size = super().sizeHint()
        arrow = self.style().pixelMetric(QStyle.PixelMetric.PM_MenuButtonIndicator, None, self)
        return QSize(size.width() + 2 * arrow, size.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        hint = self.sizeHint()
        metrics = self.fontMetrics()
        shortest = metrics.horizontalAdvance(_PREFIX + "x" * _SHORTEST_NAME + "…")
        padding = hint.width() - metrics.horizontalAdvance(self.text())
        return QSize(min(hint.width(), shortest + padding), hint.height())

    def shown_text(self) -> str:
        """The text drawn at the button's width: its whole text when that fits, else
        "Documents: " and the start of the name."""
        metrics = self.fontMetrics()
        room = self.width() - (self.sizeHint().width() - metrics.horizontalAdvance(self.text()))
        text = self.text()
        if metrics.horizontalAdvance(text) <= room or not text.startswith(_PREFIX):
            return text
        rest = room - metrics.horizontalAdvance(_PREFIX)
        return _PREFIX + metrics.elidedText(text[len(_PREFIX):], Qt.TextElideMode.ElideRight,
                                            max(rest, 0))

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        # As QToolButton paints itself, with our shortened text in place of Qt's.
        option = QStyleOptionToolButton()
        self.initStyleOption(option)
        option.text = self.shown_text()
        QStylePainter(self).drawComplexControl(QStyle.ComplexControl.CC_ToolButton, option)

    def set_available(self, names: Sequence[str]) -> None:
        self._available = list(names)
        self._rebuild()

    def set_chosen(self, names: Sequence[str]) -> None:
        """Show the open chat's choice (does not emit)."""
        self._chosen = list(dict.fromkeys(names))
        self._rebuild()

    def available(self) -> list[str]:
        return list(self._available)

    def chosen(self) -> list[str]:
        return list(self._chosen)

    def _rebuild(self) -> None:
        self._menu.clear()
        names = self._available + [n for n in self._chosen if n not in self._available]
        for name in names:
            label = name if name in self._available else f"{name} (removed)"
            action = QAction(label, self._menu)
            action.setCheckable(True)
            action.setChecked(name in self._chosen)
            action.toggled.connect(lambda on, n=name: self._on_toggled(n, on))
            self._menu.addAction(action)
        if not names:
            empty = self._menu.addAction(_NO_COLLECTIONS)
            empty.setEnabled(False)
        self._update_text()

    def _update_text(self) -> None:
        if not self._chosen:
            self.setText(f"{_PREFIX}off")
        elif len(self._chosen) == 1:
            self.setText(f"{_PREFIX}{self._chosen[0]}")
        else:
            self.setText(f"{_PREFIX}{len(self._chosen)} collections")
        # The whole names, whatever the button's width lets it show.
        chosen = "\n".join(f"• {name}" for name in self._chosen)
        self.setToolTip(f"{_TIP}\n\nThis chat answers from:\n{chosen}" if chosen else _TIP)

    def _on_toggled(self, name: str, on: bool) -> None:
        if on and name not in self._chosen:
            self._chosen.append(name)
        elif not on and name in self._chosen:
            self._chosen.remove(name)
        self._update_text()
        self.chosen_changed.emit(list(self._chosen))
