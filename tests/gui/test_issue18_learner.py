"""Issue 18, what a learner's walk-through left: the model picker's name with Sources open, the
guide's indexing progress before its first file, and passages that read as sentences."""

from __future__ import annotations

from guitools import OpenWindow
from PySide6.QtWidgets import QApplication, QComboBox
from pytestqt.qtbot import QtBot
from ui_audit import clipped

from core.rag.grounding import Grounding, Source
from core.rag.sample import SAMPLE_COLLECTION
from ui.sources_panel import _HIGHLIGHT, SourcesPanel, highlighted_html


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


_GUIDE_TEXT = """## Temperature

Try a question like "what
does temperature do?" and watch
the bars move.

- Low temperature: the likeliest
  token, nearly always.
- High temperature: surprises.
"""


def test_a_passage_reads_as_sentences_not_as_the_files_lines(qtbot: QtBot) -> None:
    source = Source(1, "/data/sample_docs/04-sampling.md", None, "Temperature", _GUIDE_TEXT,
                    SAMPLE_COLLECTION, 1, 0.03, 0.5, 3.0, 1, 1, 1)
    grounding = Grounding("What does temperature do?", (SAMPLE_COLLECTION,), (source,), 0, (),
                          "", 4096)
    panel = SourcesPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.show_grounding(grounding, 1)
    QApplication.processEvents()
    shown = panel.passage.toPlainText()
    # The file's hard line breaks broke the sentence: 'like "what' / 'does temperature do?"'.
    assert 'Try a question like "what does temperature do?" and watch the bars move.' in shown
    # Headings, paragraphs and list items keep their own lines.
    assert shown.splitlines()[:3] == ["## Temperature", "",
                                      'Try a question like "what does temperature do?" and '
                                      "watch the bars move."]
    assert "\n- Low temperature: the likeliest token, nearly always.\n- High temperature" in shown
    # The question's words are still marked.
    marked = highlighted_html(_GUIDE_TEXT, grounding.query)
    assert marked.count(f"background:{_HIGHLIGHT}") == 4  # "temperature", four times
    assert "like &quot;what does <span" in marked
