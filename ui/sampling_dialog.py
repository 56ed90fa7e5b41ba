"""Edit the sampling settings (temperature, top-k, ...). Non-modal: it never blocks the window."""

from __future__ import annotations

from dataclasses import asdict, fields

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.api import SamplingSettings
from ui.theme import mark_secondary

# name: (label, minimum, maximum, step, decimals); decimals None means an integer field
_FIELDS: dict[str, tuple[str, float, float, float, int | None]] = {
    "temperature": ("Temperature", 0.0, 2.0, 0.05, 2),
    "top_k": ("Top-k", 0, 1000, 1, None),
    "top_p": ("Top-p", 0.0, 1.0, 0.01, 2),
    "min_p": ("Min-p", 0.0, 1.0, 0.01, 2),
    "repeat_penalty": ("Repeat penalty", 0.5, 2.0, 0.01, 2),
    "max_tokens": ("Max reply tokens", 1, 32768, 16, None),
    "seed": ("Seed (-1: random)", -1, 2**31 - 1, 1, None),
}


class SamplingDialog(QDialog):
    """Shows SamplingSettings as spin boxes; emits settings_accepted(dict) on OK."""

    settings_accepted = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sampling settings")
        self.setModal(False)
        self.spins: dict[str, QSpinBox | QDoubleSpinBox] = {}
        form = QFormLayout()
        for name, (label, low, high, step, decimals) in _FIELDS.items():
            spin: QSpinBox | QDoubleSpinBox
            if decimals is None:
                spin = QSpinBox()
                spin.setRange(int(low), int(high))
                spin.setSingleStep(int(step))
            else:
                spin = QDoubleSpinBox()
                spin.setDecimals(decimals)
                spin.setRange(low, high)
                spin.setSingleStep(step)
            self.spins[name] = spin
            form.addRow(label, spin)
        note = QLabel("Used for every reply from now on.")
        mark_secondary(note)  # quieter, still AA
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.RestoreDefaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        defaults = buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        defaults.clicked.connect(lambda: self.set_settings(SamplingSettings()))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def set_settings(self, settings: SamplingSettings) -> None:
        for name, value in asdict(settings).items():
            if name in self.spins:
                self.spins[name].setValue(value)

    def settings(self) -> SamplingSettings:
        values = {f.name: self.spins[f.name].value() for f in fields(SamplingSettings)
                  if f.name in self.spins}
        return SamplingSettings(**values)  # type: ignore[arg-type]

    def accept(self) -> None:
        self.settings_accepted.emit(asdict(self.settings()))
        super().accept()
