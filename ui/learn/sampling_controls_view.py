"""Sliders for llama.cpp's sampler settings; emits one SamplingSettings after the learner pauses."""

from __future__ import annotations

from dataclasses import dataclass, replace

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QDoubleSpinBox, QGridLayout, QLabel, QSlider, QWidget

from core.api import SamplingSettings

DEBOUNCE_MS = 80


@dataclass(frozen=True)
class _Spec:
    field: str
    title: str
    low: float
    high: float
    step: float
    decimals: int
    tip: str


_SPECS = [
    _Spec("temperature", "Temperature", 0.0, 2.0, 0.05, 2,
          "Divides the logits: below 1 sharpens the distribution, above 1 flattens it."),
    _Spec("top_k", "Top-k", 0, 200, 1, 0,
          "Keep only the k most likely tokens (0: off)."),
    _Spec("top_p", "Top-p", 0.0, 1.0, 0.01, 2,
          "Keep the most likely tokens until their probabilities add up to p (1: off)."),
    _Spec("min_p", "Min-p", 0.0, 1.0, 0.01, 2,
          "Drop tokens less likely than min-p times the most likely one (0: off)."),
    _Spec("repeat_penalty", "Repeat penalty", 1.0, 2.0, 0.01, 2,
          "Makes tokens of the last 64 less likely (1: off)."),
]


class SamplingControlsView(QWidget):
    """A slider and a spin box per setting, kept in step."""

    settings_changed = Signal(object)  # SamplingSettings

    def __init__(self, settings: SamplingSettings | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings or SamplingSettings()
        self.spins: dict[str, QDoubleSpinBox] = {}
        self.sliders: dict[str, QSlider] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(2)
        for column, spec in enumerate(_SPECS):
            title = QLabel(spec.title)
            spin = QDoubleSpinBox()
            spin.setRange(spec.low, spec.high)
            spin.setSingleStep(spec.step)
            spin.setDecimals(spec.decimals)
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(0, round((spec.high - spec.low) / spec.step))
            for widget in (title, spin, slider):
                widget.setToolTip(spec.tip)
            grid.addWidget(title, 0, column * 2)
            grid.addWidget(spin, 0, column * 2 + 1)
            grid.addWidget(slider, 1, column * 2, 1, 2)
            grid.setColumnStretch(column * 2, 1)
            self.spins[spec.field], self.sliders[spec.field] = spin, slider
            slider.valueChanged.connect(lambda v, s=spec: self._on_slider(s, v))
            spin.valueChanged.connect(lambda v, s=spec: self._on_spin(s, v))
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(lambda: self.settings_changed.emit(self.settings()))
        self.set_settings(self._settings)

    def settings(self) -> SamplingSettings:
        values: dict[str, float | int] = {s.field: self.spins[s.field].value() for s in _SPECS}
        values["top_k"] = int(values["top_k"])
        return replace(self._settings, **values)  # type: ignore[arg-type]

    def set_settings(self, settings: SamplingSettings) -> None:
        """Show `settings` without emitting settings_changed."""
        self._settings = settings
        for spec in _SPECS:
            value = float(getattr(settings, spec.field))
            spin, slider = self.spins[spec.field], self.sliders[spec.field]
            spin.blockSignals(True)
            slider.blockSignals(True)
            spin.setValue(value)
            slider.setValue(round((value - spec.low) / spec.step))
            spin.blockSignals(False)
            slider.blockSignals(False)

    def _on_slider(self, spec: _Spec, position: int) -> None:
        spin = self.spins[spec.field]
        spin.blockSignals(True)
        spin.setValue(spec.low + position * spec.step)
        spin.blockSignals(False)
        self._debounce.start()

    def _on_spin(self, spec: _Spec, value: float) -> None:
        slider = self.sliders[spec.field]
        slider.blockSignals(True)
        slider.setValue(round((value - spec.low) / spec.step))
        slider.blockSignals(False)
        self._debounce.start()
