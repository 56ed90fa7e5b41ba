"""The Learn tab in the real window, computed by the real model through the engine worker."""

from __future__ import annotations

import shutil
from pathlib import Path

from guitools import REPLY_TIMEOUT_MS, OpenWindow, send_and_wait
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.models.bundled import CHAT_MODEL_ID, default_chat_model

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


def test_tokenizer_follows_typing(qtbot: QtBot, open_window: OpenWindow) -> None:
    window = open_window()
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.learn
    panel = window.learn.tokenizer
    for text in ("Hello", "Hello wörld", "Hello wörld, tokens!"):
        panel.set_text(text)  # several edits in a row: only the newest result is shown
    qtbot.waitUntil(lambda: panel.chips.token_count > 0 and "<b>20</b> characters"
                    in panel.counts_label.text(), timeout=REPLY_TIMEOUT_MS)
    assert window.engine is not None
    assert "tokens" in panel.counts_label.text()


def test_next_token_shows_bars_and_steps(qtbot: QtBot, open_window: OpenWindow) -> None:
    window = open_window()
    window.tabs.setCurrentWidget(window.learn)
    panel = window.learn.show_next_token()
    panel.set_prompt("The capital of France is")
    qtbot.waitUntil(lambda: panel.bars.bar_count() > 0, timeout=REPLY_TIMEOUT_MS)
    assert "bits" in panel.entropy_label.text()
    panel.sample_button.click()
    qtbot.waitUntil(lambda: len(panel.steps()) == 1 and panel.bars.bar_count() > 0
                    and not panel._waiting, timeout=REPLY_TIMEOUT_MS)
    assert panel.token_path() == [panel.steps()[0].token_id]
    SCREENSHOTS.mkdir(exist_ok=True)
    window.grab().save(str(SCREENSHOTS / "window-learn-next.png"))


def test_inspect_reply_opens_surprise(qtbot: QtBot, open_window: OpenWindow) -> None:
    window = open_window()
    send_and_wait(qtbot, window, "Name three colours.")
    window.inspect_button.click()
    assert window.tabs.currentWidget() is window.learn
    surprise = window.learn.surprise
    qtbot.waitUntil(lambda: "erplexity" in surprise.perplexity_label.text(),
                    timeout=REPLY_TIMEOUT_MS)
    assert surprise.text().strip()
    # One name per model: the one the picker and status bar give it, not its file's.
    assert surprise.perplexity_label.text().startswith(f"<b>{CHAT_MODEL_ID}</b>")
    assert default_chat_model().stem not in surprise.perplexity_label.text()
    nxt = window.learn.next_token  # where the model began this reply, ready to step through
    qtbot.waitUntil(lambda: nxt.prompt().endswith("<|im_start|>assistant\n")
                    and nxt.bars.bar_count() > 0, timeout=REPLY_TIMEOUT_MS)
    assert "Name three colours." in nxt.prompt()
    window.grab().save(str(SCREENSHOTS / "window-learn-surprise.png"))


def test_inspect_with_no_reply_says_so(qtbot: QtBot, open_window: OpenWindow) -> None:
    window = open_window()
    window.inspect_button.click()
    assert "no reply" in window.error_banner.message()
    assert window.tabs.currentWidget() is not window.learn


def test_what_the_model_sees_renders_the_chat(qtbot: QtBot, open_window: OpenWindow) -> None:
    window = open_window()
    send_and_wait(qtbot, window, "Hello there")
    window.tabs.setCurrentWidget(window.learn)
    panel = window.learn.show_tokenizer()
    panel.template_button.click()
    qtbot.waitUntil(lambda: panel.text().startswith("<|im_start|>") and panel.chips.token_count
                    > 0, timeout=REPLY_TIMEOUT_MS)
    assert "<|im_start|>user\nHello there<|im_end|>" in panel.text()
    assert panel.special()
    window.grab().save(str(SCREENSHOTS / "window-learn-template.png"))


def test_compare_with_the_bundled_base_model(qtbot: QtBot, open_window: OpenWindow) -> None:
    window = open_window()
    window.tabs.setCurrentWidget(window.learn)
    tokenizer = window.learn.show_tokenizer()
    tokenizer.set_text("Tokenizers differ: naïve café")
    window.learn.set_comparison(window.learn.compare_box.itemData(1))  # Gemma 3 270M base
    qtbot.waitUntil(lambda: tokenizer.comparison_chips.isVisible()
                    and tokenizer.comparison_chips.token_count > 0, timeout=REPLY_TIMEOUT_MS)
    assert "Gemma" in tokenizer.comparison_label.text()
    window.grab().save(str(SCREENSHOTS / "window-learn-compare-tokens.png"))
    surprise = window.learn.show_surprise()
    surprise.set_text("The capital of France is Paris. The capital of Germany is Berlin.")
    surprise.measure_button.click()
    qtbot.waitUntil(lambda: surprise.comparison.isVisible()
                    and "erplexity" in surprise.comparison.header.text(),
                    timeout=REPLY_TIMEOUT_MS)
    window.grab().save(str(SCREENSHOTS / "window-learn-compare-surprise.png"))
    window.learn.set_comparison("")
    assert not tokenizer.comparison_chips.isVisible()


def test_embedding_maps_and_quant_lab_are_in_the_window(qtbot: QtBot, open_window: OpenWindow,
                                                        tmp_path: Path) -> None:
    """Both labs sit in the Learn tab, find the loaded chat model, and a lab copy joins the
    model library (as a copy: clearing the lab must not take the library's file with it)."""
    window = open_window()
    assert window.maps_controller is not None and window.quant_lab_controller is not None
    window.tabs.setCurrentWidget(window.learn)
    # The chat model by its one name (the picker's and the status bar's), not its file name.
    source = window.learn.show_quant_lab().source_label.text()
    assert source == f"{CHAT_MODEL_ID} (the chat model)"
    tokens = window.learn.show_maps().tokens
    window.learn.maps.setCurrentWidget(tokens)
    tokens.word.setText("seven")
    qtbot.mouseClick(tokens.find_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tokens.result is not None
                    and not window.maps_controller.busy,  # type: ignore[union-attr]
                    timeout=REPLY_TIMEOUT_MS)
    assert tokens.table.rowCount() == 20 and CHAT_MODEL_ID in tokens.status.text()
    assert default_chat_model().name not in tokens.status.text()
    SCREENSHOTS.mkdir(exist_ok=True)
    window.grab().save(str(SCREENSHOTS / "window-learn-embedding-maps.png"))
    lab_copy = tmp_path / "lab-copy-Q3_K.gguf"
    shutil.copyfile(default_chat_model(), lab_copy)
    window.quant_lab_controller.import_requested.emit(str(lab_copy))
    assert window.library is not None
    qtbot.waitUntil(lambda: any(e.name.startswith("lab-copy")
                                for e in window.library.entries),  # type: ignore[union-attr]
                    timeout=REPLY_TIMEOUT_MS)
    assert window.tabs.currentWidget() is window.models_panel
    entry = next(e for e in window.library.entries if e.name.startswith("lab-copy"))
    lab_copy.unlink()
    assert Path(entry.path).is_file()
