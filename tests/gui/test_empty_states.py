"""Empty, loading and failed states (issue 18): a line of guidance in place of a blank area, and
a Try an example button that does what it says."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from ui.learn.attention_grid_view import AttentionGridView
from ui.learn.attention_panel import EXAMPLE as ATTENTION_EXAMPLE
from ui.learn.attention_panel import AttentionPanel
from ui.learn.lens_panel import EXAMPLE as LENS_EXAMPLE
from ui.learn.lens_panel import LensPanel
from ui.learn.next_token_panel import EXAMPLE as NEXT_EXAMPLE
from ui.learn.next_token_panel import NextTokenPanel
from ui.learn.surprise_panel import EXAMPLE as SURPRISE_EXAMPLE
from ui.learn.surprise_panel import SurprisePanel
from ui.learn.tokenizer_panel import EXAMPLE as TOKENIZER_EXAMPLE
from ui.learn.tokenizer_panel import TokenizerPanel


def test_tokenizer_example(qtbot: QtBot) -> None:
    panel = TokenizerPanel()
    qtbot.addWidget(panel)
    assert panel.chips_stack.currentWidget() is panel.empty and "Type" in panel.empty.text()
    with qtbot.waitSignal(panel.text_changed) as asked:
        panel.empty.button.click()
    assert asked.args[0] == TOKENIZER_EXAMPLE and "🙂" in TOKENIZER_EXAMPLE


def test_next_token_example_loading_and_failure(qtbot: QtBot) -> None:
    panel = NextTokenPanel()
    qtbot.addWidget(panel)
    assert panel.results.currentWidget() is panel.empty
    with qtbot.waitSignal(panel.prompt_changed) as asked:
        panel.empty.button.click()
    assert asked.args[0] == NEXT_EXAMPLE
    assert panel.empty.text() == "Asking the model…" and panel.empty.button.isHidden()
    panel.set_failed("No model is loaded: pick one in the chat's Model list.")
    assert "No model is loaded" in panel.empty.text()


def test_surprise_example_and_failure(qtbot: QtBot) -> None:
    panel = SurprisePanel()
    qtbot.addWidget(panel)
    assert panel.results.currentWidget() is panel.empty and "Measure" in panel.empty.text()
    with qtbot.waitSignal(panel.measure_requested) as asked:
        panel.empty.button.click()
    assert asked.args[0] == SURPRISE_EXAMPLE and panel.empty.text() == "Measuring…"
    panel.set_failed("The text needs at least two tokens to measure surprise.")
    assert "two tokens" in panel.empty.text()


def test_attention_grid_explains_itself_before_a_capture(qtbot: QtBot) -> None:
    panel = AttentionPanel()
    qtbot.addWidget(panel)
    assert "Capture" in panel.grid.empty_text() and panel.grid.empty_text() != "…"
    assert "Press Capture" in panel.prompt.status.text()
    panel.prompt.set_text("")
    with qtbot.waitSignal(panel.capture_requested) as asked:
        panel.prompt.example_button.click()
    assert asked.args[0] == ATTENTION_EXAMPLE
    assert AttentionGridView().empty_text()


def test_lens_is_not_blank_before_a_run(qtbot: QtBot) -> None:
    panel = LensPanel()
    qtbot.addWidget(panel)
    assert panel.stack.currentWidget() is panel.empty and "Capture" in panel.empty.text()
    panel.prompt.set_text("")
    with qtbot.waitSignal(panel.capture_requested) as asked:
        panel.empty.button.click()
    assert asked.args[0] == LENS_EXAMPLE
    panel.set_busy("Reading the text through the output matrix…")
    assert "output matrix" in panel.empty.text() and panel.empty.button.isHidden()
    panel.set_failed("No model is loaded.")
    assert "No model" in panel.empty.text() and not panel.empty.button.isHidden()


def test_compare_says_what_to_do_and_tries_an_example(qtbot: QtBot) -> None:
    from ui.compare_panel import EXAMPLE, ComparePanel

    panel = ComparePanel()
    qtbot.addWidget(panel)
    assert not panel.hint_label.isHidden() and "Try an example" in panel.hint_label.text()
    with qtbot.waitSignal(panel.run_requested) as asked:
        panel.example_button.click()
    assert asked.args[0] == EXAMPLE and len(asked.args[1]) == panel.column_count.value()
    panel.begin_run()
    assert panel.hint_label.isHidden()


def test_building_an_empty_state_leaves_the_active_window_alone(qtbot: QtBot) -> None:
    """Its button was shown before it had a parent: a window of its own for a moment, which
    took the activation (and with it the main window's Ctrl+1..5) from the window."""
    from PySide6.QtWidgets import QApplication, QWidget

    from ui.empty_state_view import EmptyStateView

    window = QWidget()
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    view = EmptyStateView("Nothing here yet.")
    qtbot.addWidget(view)
    QApplication.processEvents()
    assert QApplication.activeWindow() is window


def test_tokenizer_says_why_it_failed(qtbot: QtBot) -> None:
    panel = TokenizerPanel()
    qtbot.addWidget(panel)
    panel.set_failed("No model is loaded: pick one in the chat's Model list.")
    assert panel.chips_stack.currentWidget() is panel.empty
    assert "No model is loaded" in panel.empty.text()
