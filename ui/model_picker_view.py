"""Choose the model: the library's models (bundled, imported, downloaded), then recently used
files that are not in the library, or open any GGUF file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QToolButton,
    QWidget,
)

from ui.theme import mark_secondary

_PATH_ROLE = Qt.ItemDataRole.UserRole
_ABOUT = "The model that answers in every chat"


class _MiddleElidedCombo(QComboBox):
    """A combo box that shortens its current text in the middle, so a narrow one still shows
    the start of the name and its end ("bundled:smol…(tiny demo model)"), not a cut word."""

    def shown_text(self) -> str:
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        return self._elided(option)

    def _elided(self, option: QStyleOptionComboBox) -> str:
        field = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                            QStyle.SubControl.SC_ComboBoxEditField, self)
        room = field.width() - 2  # the label is drawn one pixel in from each side
        if not option.currentIcon.isNull():
            room -= option.iconSize.width() + 4
        return self.fontMetrics().elidedText(option.currentText, Qt.TextElideMode.ElideMiddle,
                                             max(room, 0))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        option.currentText = self._elided(option)
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)


class ModelPickerView(QWidget):
    """Lists models by path and reports the one the user picks; it loads nothing itself."""

    model_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._current: str | None = None
        self._library: list[tuple[str, str]] = []  # (label, path)
        self._recent: list[str] = []
        self.combo = _MiddleElidedCombo()
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.combo.setMinimumContentsLength(24)
        # As wide as the name when there is room; down to 24 characters (the name elided, the
        # list still whole, the whole name in the tooltip) when the window is narrow or Sources
        # is open.
        self.combo.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.combo.setMinimumWidth(self.combo.fontMetrics().averageCharWidth() * 24 + 40)
        self.combo.setToolTip(_ABOUT)
        self.open_button = QToolButton()
        self.open_button.setText("Open GGUF file…")
        self.open_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.state_label = QLabel()
        mark_secondary(self.state_label)  # quieter, still AA
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Model:"))
        layout.addWidget(self.combo)
        layout.addWidget(self.open_button)
        layout.addWidget(self.state_label)
        self.combo.activated.connect(self._on_activated)
        self.open_button.clicked.connect(self._on_open_file)

    # -- what the window calls --------------------------------------------------------------
    def set_models(self, library: Sequence[tuple[str, str]], recent: Sequence[str]) -> None:
        """`library`: (label, path) of installed models; `recent`: other files opened lately."""
        self._library = list(library)
        known = {path for _label, path in self._library}
        self._recent = [p for p in recent if p not in known]
        self._refill()

    def set_current(self, path: str | None) -> None:
        """The model that is loaded now (None: no model)."""
        self._current = path
        self._refill()

    def set_loading(self, path: str | None) -> None:
        """Show that `path` is loading (None: loading finished)."""
        self.combo.setEnabled(path is None)
        self.open_button.setEnabled(path is None)
        self.state_label.setText("Loading…" if path is not None else "")
        self.state_label.setToolTip(path or "")

    def choose_path(self, path: str) -> None:
        """Pick a model file as if the user had chosen it (the file dialog ends here)."""
        self.model_chosen.emit(path)

    def paths(self) -> list[str]:
        return [str(self.combo.itemData(i, _PATH_ROLE)) for i in range(self.combo.count())
                if self.combo.itemData(i, _PATH_ROLE)]

    # -- internals --------------------------------------------------------------------------
    def _refill(self) -> None:
        self.combo.blockSignals(True)
        try:
            self.combo.clear()
            for label, path in self._library:
                self._add(label, path)
            for path in self._recent:
                self._add(Path(path).stem, path)
            known = [path for _label, path in self._library] + self._recent
            if self._current and self._current not in known:
                self._add(Path(self._current).stem, self._current)
            if self._current is None:
                self.combo.insertItem(0, "No model loaded")
                self.combo.setCurrentIndex(0)
            else:
                self.combo.setCurrentIndex(self.combo.findData(self._current, _PATH_ROLE))
        finally:
            self.combo.blockSignals(False)
        name = self.combo.currentText()
        self.combo.setToolTip(f"{name}\n{_ABOUT}" if name else _ABOUT)

    def _add(self, label: str, path: str) -> None:
        self.combo.addItem(label, path)
        self.combo.setItemData(self.combo.count() - 1, path, Qt.ItemDataRole.ToolTipRole)

    def _on_activated(self, index: int) -> None:
        path = self.combo.itemData(index, _PATH_ROLE)
        if path and path != self._current:
            self.model_chosen.emit(str(path))

    def _on_open_file(self) -> None:
        start = str(Path(self._current).parent) if self._current else str(Path.home())
        path, _filter = QFileDialog.getOpenFileName(
            self, "Open a GGUF model", start, "GGUF models (*.gguf);;All files (*)"
        )
        if path:
            self.choose_path(path)
