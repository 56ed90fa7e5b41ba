"""The training settings, each with its one-line explanation beside it."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from ui.theme import mark_secondary

_DEBOUNCE_MS = 300  # a spin box held down changes many times; plan once it settles
# (setting name, label, minimum, maximum)
_INTS = (("rank", "Rank", 1, 256), ("alpha", "Alpha", 1, 1024), ("epochs", "Epochs", 1, 100),
         ("max_length", "Max length", 8, 8192), ("batch_size", "Batch size", 1, 256))


class FinetuneSettingsView(QWidget):
    changed = Signal()  # after the values settle

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ints: dict[str, QSpinBox] = {}
        for name, _title, low, high in _INTS:
            box = QSpinBox()
            box.setRange(low, high)
            self.ints[name] = box
        self.learning_rate = QDoubleSpinBox()
        self.learning_rate.setDecimals(5)
        self.learning_rate.setRange(0.00001, 0.5)
        self.learning_rate.setSingleStep(0.0001)
        self.modules: dict[str, QCheckBox] = {}
        self._module_row = QHBoxLayout()
        self._module_row.setContentsMargins(0, 0, 0, 0)
        self.help: dict[str, QLabel] = {}
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setColumnStretch(2, 1)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(_DEBOUNCE_MS)
        self._timer.timeout.connect(self.changed)

    def set_settings(self, values: dict[str, Any], help_text: dict[str, str],
                     modules: list[str]) -> None:
        """Build the rows once: `values` from TrainingSettings.to_json(), `help_text` the
        explanation of each setting, `modules` the weights an adapter can go on."""
        rows: list[tuple[str, str, QWidget]] = [
            (name, title, self.ints[name]) for name, title, *_ in _INTS[:2]]
        holder = QWidget()
        holder.setLayout(self._module_row)
        for module in modules:
            box = QCheckBox(module)
            self.modules[module] = box
            self._module_row.addWidget(box)
            box.toggled.connect(self._timer.start)
        self._module_row.addStretch(1)
        rows.append(("target_modules", "Target modules", holder))
        rows.append(("learning_rate", "Learning rate", self.learning_rate))
        rows += [(name, title, self.ints[name]) for name, title, *_ in _INTS[2:]]
        r = 0
        for name, title, widget in rows:
            explanation = QLabel(help_text.get(name, ""))
            explanation.setWordWrap(True)
            mark_secondary(explanation)
            self.help[name] = explanation
            self._grid.addWidget(QLabel(title + ":"), r, 0, Qt.AlignmentFlag.AlignTop)
            if name == "target_modules":
                # Seven check boxes leave no room beside them: the explanation goes under.
                self._grid.addWidget(widget, r, 1, 1, 2)
                self._grid.addWidget(explanation, r + 1, 1, 1, 2)
                r += 2
                continue
            self._grid.addWidget(widget, r, 1, Qt.AlignmentFlag.AlignTop)
            self._grid.addWidget(explanation, r, 2)
            r += 1
        self.set_values(values)
        for box in self.ints.values():
            box.valueChanged.connect(self._timer.start)
        self.learning_rate.valueChanged.connect(self._timer.start)

    def set_values(self, values: dict[str, Any]) -> None:
        for name, box in self.ints.items():
            if name in values:
                box.setValue(int(values[name]))
        if "learning_rate" in values:
            self.learning_rate.setValue(float(values["learning_rate"]))
        if "target_modules" in values:
            chosen = set(values["target_modules"])
            for module, box in self.modules.items():
                box.setChecked(module in chosen)

    def values(self) -> dict[str, Any]:
        data: dict[str, Any] = {name: box.value() for name, box in self.ints.items()}
        data["learning_rate"] = self.learning_rate.value()
        data["target_modules"] = tuple(m for m, box in self.modules.items() if box.isChecked())
        return data
