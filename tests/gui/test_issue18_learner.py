"""Issue 18, what a learner's walk-through left: the model picker's name with Sources open, the
guide's indexing progress before its first file, and passages that read as sentences."""

from __future__ import annotations

from guitools import OpenWindow
from PySide6.QtWidgets import QApplication, QComboBox
from pytestqt.qtbot import QtBot
from ui_audit import clipped


def test_model_picker_shows_the_name_start_and_end_with_sources_open(
        qtbot: QtBot, open_window: OpenWindow) -> None:
    window = open_window(wait_ready=False)
    window.resize(1280, 800)
    window.sources_button.setChecked(True)
    combo = window.model_picker.combo
    qtbot.waitUntil(lambda: "(tiny demo model)" in combo.currentText(), timeout=30_000)
    # The window lays the header out again for Sources: the picker gets less than its name.
    qtbot.waitUntil(lambda: combo.width() < combo.sizeHint().width(), timeout=5_000)
    name = combo.currentText()
    # It read "bundled:smollm2-135m-in": the cut fell inside a word and hid what the model is.
    assert clipped(combo) is None
    shown = combo.shown_text()  # type: ignore[attr-defined]
    assert shown.startswith("bundled:s") and "model)" in shown and "…" in shown
    assert name in combo.toolTip()  # the whole name, whatever the width


def test_ui_audit_sees_a_clipped_combo_box(qtbot: QtBot) -> None:
    combo = QComboBox()
    qtbot.addWidget(combo)
    combo.addItem("bundled:smollm2-135m-instruct (tiny demo model)")
    combo.setFixedWidth(120)
    combo.show()
    QApplication.processEvents()
    problem = clipped(combo)
    assert problem is not None and "QComboBox 'bundled:smollm2" in problem
    combo.setFixedWidth(combo.sizeHint().width())
    assert clipped(combo) is None
