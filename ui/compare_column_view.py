"""One column of a comparison: its settings on top, the streamed output and its figures below."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from ui.theme import mark_secondary

PLAIN = ""  # the preset combo's "no preset" entry
CHAT_MODEL = ""  # the model combo's "the chat's model" entry


class CompareColumnView(QFrame):
    """Settings of one variant (label, preset, temperature, model) and what it produced."""

    def __init__(self, number: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName(f"compareColumn{number}")
        # Empty: the label follows the preset and temperature (shown as the placeholder);
        # what the user types stays.
        self.label_edit = QLineEdit()
        self.label_edit.setToolTip("A name for this variant; leave it empty to name it after "
                                   "its preset and temperature")
        self._wanted_preset = PLAIN  # kept until the preset list, read later, has it
        self.preset_combo = QComboBox()
        self.preset_combo.setToolTip("The system prompt and few-shot examples this variant "
                                     "starts from (Plain: none)")
        self.temperature = QDoubleSpinBox(minimum=0.0, maximum=2.0, singleStep=0.1, value=0.7,
                                          decimals=2)
        self.temperature.setToolTip("0 always takes the likeliest token; higher is more varied")
        self.model_combo = QComboBox()
        self.model_combo.setToolTip("The model this variant runs on: another local model is "
                                    "loaded for it and the chat's model comes back afterwards; "
                                    "a remote engine's model is asked on its server")
        self.model_label = QLabel()
        mark_secondary(self.model_label)  # quieter, still AA
        self.output = QPlainTextEdit(readOnly=True)
        self.output.setPlaceholderText("The reply streams here.")
        self.stats_label = QLabel("—")
        bold = QFont(self.stats_label.font())
        bold.setBold(True)
        self.stats_label.setFont(bold)
        self.stats_label.setWordWrap(True)
        self.stats_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Label", self.label_edit)
        form.addRow("Preset", self.preset_combo)
        form.addRow("Temperature", self.temperature)
        form.addRow("Model", self.model_combo)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(form)
        layout.addWidget(self.output, 1)
        layout.addWidget(self.model_label)
        layout.addWidget(self.stats_label)
        self.set_presets([])
        self.set_models([])
        self.preset_combo.currentIndexChanged.connect(self._on_preset_chosen)
        self.temperature.valueChanged.connect(lambda _v: self._update_label())
        self._update_label()

    # -- settings ---------------------------------------------------------------------------
    def set_presets(self, names: Sequence[str]) -> None:
        wanted = self._wanted_preset
        self.preset_combo.blockSignals(True)
        self.preset_combo.clear()
        self.preset_combo.addItem("Plain (no preset)", PLAIN)
        for name in names:
            self.preset_combo.addItem(name, name)
        self.preset_combo.setCurrentIndex(max(self.preset_combo.findData(wanted), 0))
        self.preset_combo.blockSignals(False)
        self._update_label()

    def auto_label(self) -> str:
        """The label a variant gets when the user has not named it: its preset and T."""
        preset = str(self.preset_combo.currentData() or "")
        return f"{preset or 'Plain'} · T={self.temperature.value():g}"

    def _on_preset_chosen(self, _index: int) -> None:
        self._wanted_preset = str(self.preset_combo.currentData() or PLAIN)
        self._update_label()

    def _update_label(self) -> None:
        self.label_edit.setPlaceholderText(self.auto_label())

    def set_models(self, models: Sequence[tuple[str, str]]) -> None:
        """(label, path) of the models a variant may run on."""
        current = self.model_combo.currentData()
        self.model_combo.clear()
        self.model_combo.addItem("The chat's model", CHAT_MODEL)
        for label, path in models:
            self.model_combo.addItem(label, path)
            self.model_combo.setItemData(self.model_combo.count() - 1, path,
                                         Qt.ItemDataRole.ToolTipRole)
        self.model_combo.setCurrentIndex(max(self.model_combo.findData(current), 0))

    def spec(self) -> dict[str, Any]:
        """This column's variant as plain data for the controller."""
        preset = str(self.preset_combo.currentData() or "")
        label = self.label_edit.text().strip() or self.auto_label()
        return {"label": label, "preset": preset or None,
                "temperature": round(self.temperature.value(), 2),
                "model_path": str(self.model_combo.currentData() or "") or None}

    def set_spec(self, label: str | None, preset: str | None, temperature: float,
                 model_path: str | None = None) -> None:
        """`label` None (or the automatic one): the label follows preset and temperature. A
        preset not listed yet is chosen once set_presets lists it."""
        self.preset_combo.blockSignals(True)  # not listed yet is not "the user chose Plain"
        self.preset_combo.setCurrentIndex(max(self.preset_combo.findData(preset or PLAIN), 0))
        self.preset_combo.blockSignals(False)
        self._wanted_preset = preset or PLAIN
        self.temperature.setValue(temperature)
        self.label_edit.setText("" if label is None or label == self.auto_label() else label)
        if model_path and self.model_combo.findData(model_path) < 0:
            self.model_combo.addItem(model_path.rsplit("/", 1)[-1], model_path)
        self.model_combo.setCurrentIndex(max(self.model_combo.findData(model_path or ""), 0))

    def set_editable(self, editable: bool) -> None:
        for widget in (self.label_edit, self.preset_combo, self.temperature, self.model_combo):
            widget.setEnabled(editable)

    # -- results ----------------------------------------------------------------------------
    def clear_output(self, waiting: bool = True) -> None:
        self.output.clear()
        self.model_label.clear()
        self.stats_label.setText("Waiting…" if waiting else "—")

    def start(self, model_name: str) -> None:
        self.model_label.setText(model_name)
        self.stats_label.setText("Generating…")

    def append(self, text: str) -> None:
        cursor = self.output.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        cursor.insertText(text)
        self.output.setTextCursor(cursor)

    def set_output(self, text: str) -> None:
        self.output.setPlainText(text)

    def show_stats(self, stats: dict[str, Any] | None, status: str, error: str = "") -> None:
        self.stats_label.setText(stats_line(stats, status, error))
        self.stats_label.setToolTip(error)

    def text(self) -> str:
        return self.output.toPlainText()


def stats_line(stats: dict[str, Any] | None, status: str, error: str = "") -> str:
    """'24 tokens · 81.3 tokens/s · prompt 57', with the status when it did not complete."""
    if status == "failed":
        return "Failed: " + (error or "no reason given")
    if not stats:
        return status.capitalize()
    rate = stats.get("tokens_per_s", 0.0)
    count = stats.get("completion_tokens", 0)
    parts = [f"{count} token" + ("" if count == 1 else "s"),
             f"{rate:.1f} tokens/s" if rate else "– tokens/s",
             f"prompt {stats.get('prompt_tokens', 0)}",
             f"first token {stats.get('ttft_s', 0.0):.2f} s"]
    if status != "complete":
        parts.append(status)
    return " · ".join(parts)
