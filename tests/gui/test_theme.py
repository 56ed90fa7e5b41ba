"""The light and dark schemes (ui/theme.py): every text colour reads on every background it is
drawn on (WCAG AA), the style sheet is filled in, and a light/dark switch reaches every widget."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from ui.theme import AA, DARK, LIGHT, Scheme, apply_theme, contrast, readable, style_sheet


@pytest.mark.parametrize("scheme", [LIGHT, DARK], ids=["light", "dark"])
def test_text_colours_reach_aa_on_every_background(scheme: Scheme) -> None:
    for background in (scheme.window, scheme.base, scheme.alternate, scheme.button):
        for text in (scheme.text, scheme.secondary, scheme.link):
            assert contrast(QColor(text), QColor(background)) >= AA, (text, background)
    assert contrast(QColor(scheme.highlighted_text), QColor(scheme.highlight)) >= AA
    assert contrast(QColor(scheme.tooltip_text), QColor(scheme.tooltip)) >= AA
    assert contrast(QColor(scheme.disabled), QColor(scheme.window)) >= 3.0  # dimmed, legible


def test_the_style_sheet_has_every_colour_filled_in() -> None:
    for scheme in (LIGHT, DARK):
        rules = style_sheet(scheme).split("*/", 1)[1]  # after the comment that names @names
        assert "@" not in rules and scheme.highlight in rules


@pytest.mark.parametrize("color", ["#F0E442", "#2e9b4f", "#9a9a9a", "#3d8bfd"])
def test_readable_keeps_a_colour_but_makes_it_read(color: str) -> None:
    for background in (QColor(LIGHT.window), QColor(DARK.window), QColor("#ffffff")):
        assert contrast(readable(color, background), background) >= AA


def test_a_switch_reaches_hidden_widgets_too(qtbot: QtBot, qapp: QApplication) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    shown, hidden, styled = QLabel("shown"), QLabel("hidden"), QLabel("styled")
    styled.setStyleSheet("QLabel { padding: 2px; }")  # any style sheet at all broke this
    layout = QVBoxLayout(window)
    for label in (shown, hidden, styled):
        layout.addWidget(label)
    hidden.hide()
    window.show()
    try:
        apply_theme(qapp, dark=True)
        qapp.processEvents()
        for label in (shown, hidden, styled):
            text = label.palette().color(QPalette.ColorRole.WindowText)
            assert text == QColor(DARK.text), label.text()
    finally:
        apply_theme(qapp, dark=False)
