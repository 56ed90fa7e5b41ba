"""How models load: GPU layers (Auto fits them), threads, context length, flash attention, KV."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QWidget,
)

from core.api import LoadSettings
from core.models.load_settings import KV_TYPES
from ui.theme import mark_secondary

_AUTO_LAYERS = -2  # the spin box's "Auto"; -1 stays llama.cpp's "all layers"
_KV_LABELS = {"f16": "f16 (full quality)", "q8_0": "q8_0 (half the memory)",
              "q4_0": "q4_0 (a quarter, needs flash attention)"}


class LoadSettingsView(QGroupBox):
    """Emits `settings_changed(LoadSettings)` on every edit; it saves nothing itself."""

    settings_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Load settings", parent)
        self.gpu_layers = QSpinBox()
        self.gpu_layers.setRange(_AUTO_LAYERS, 999)
        self.gpu_layers.setSpecialValueText("Auto (fit to memory)")
        self.gpu_layers.setToolTip("Layers llama.cpp puts on the GPU. Auto: as many as fit; "
                                   "0: CPU only; -1 or more than the model has: all")
        self.threads = QSpinBox()
        self.threads.setRange(0, 256)
        self.threads.setSpecialValueText("Auto (one thread per CPU core)")
        self.context = QSpinBox()
        self.context.setRange(256, 262_144)
        self.context.setSingleStep(512)
        self.context.setSuffix(" tokens")
        self.context.setToolTip("The context window: longer holds more of a chat and more "
                                "documents, and the KV cache grows with it")
        self.flash_attn = QCheckBox("Flash attention")
        self.flash_attn.setToolTip("Faster and leaner attention where the build supports it; "
                                   "needed for a quantized V cache")
        self.kv_type = QComboBox()
        for kv in KV_TYPES:
            self.kv_type.addItem(_KV_LABELS[kv], kv)
        note = QLabel("Used when a model is loaded next (“Use in chat”).", wordWrap=True)
        mark_secondary(note)  # quieter, still AA
        form = QFormLayout(self)
        form.addRow("GPU layers", self.gpu_layers)
        form.addRow("Threads", self.threads)
        form.addRow("Context", self.context)
        form.addRow("", self.flash_attn)
        form.addRow("KV cache", self.kv_type)
        form.addRow(note)
        for spin in (self.gpu_layers, self.threads, self.context):
            spin.valueChanged.connect(self._emit)
        self.flash_attn.toggled.connect(self._emit)
        self.kv_type.currentIndexChanged.connect(self._emit)
        self._quiet = False

    def set_settings(self, settings: LoadSettings) -> None:
        """Show stored settings without echoing them back as a change."""
        self._quiet = True
        try:
            layers = settings.gpu_layers
            self.gpu_layers.setValue(_AUTO_LAYERS if layers is None else layers)
            self.threads.setValue(settings.threads)
            self.context.setValue(settings.n_ctx)
            self.flash_attn.setChecked(settings.flash_attn)
            self.kv_type.setCurrentIndex(max(0, self.kv_type.findData(settings.kv_type)))
        finally:
            self._quiet = False

    def settings(self) -> LoadSettings:
        layers = self.gpu_layers.value()
        return LoadSettings(gpu_layers=None if layers == _AUTO_LAYERS else layers,
                            threads=self.threads.value(), flash_attn=self.flash_attn.isChecked(),
                            kv_type=str(self.kv_type.currentData()), n_ctx=self.n_ctx())

    def n_ctx(self) -> int:
        return self.context.value()

    def _emit(self) -> None:
        if not self._quiet:
            self.settings_changed.emit(self.settings())
