"""AttentionPanel with real attention from the bundled model: heatmap, head grid, lines,
mean over heads, passages of a grounded reply; the controller through the real engine."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from inside_fixtures import TIMEOUT_MS, Wired, wire
from learntools import Shoot, dark_palette
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from core.engine.attention_plan import CELL_BUDGET
from core.engine.capture_types import AttentionView
from core.engine.client import EngineClient
from core.engine.types import ChatMessage
from core.rag.grounding import Grounding, Source, grounded_question
from core.rag.passage_attention import passage_spans
from ui.learn.attention_grid_view import CELL, GAP
from ui.learn.attention_panel import EXAMPLE, MEAN, AttentionPanel
from ui.learn.heatmap_grid import colormap_lut, head_grid_image, scaled

TEXT = "The capital of France is Paris. The capital of Germany is"


@pytest.fixture
def wired(qtbot: QtBot) -> Iterator[Wired]:
    yield from wire(qtbot)


@pytest.fixture
def unloaded(qtbot: QtBot) -> Iterator[Wired]:
    """The engine child running, with no model loaded."""
    yield from wire(qtbot, load=False)


@pytest.fixture(scope="module")
def view(learn_engine: EngineClient) -> AttentionView:
    return learn_engine.attention(TEXT)


def make_panel(qtbot: QtBot, view: AttentionView) -> AttentionPanel:
    panel = AttentionPanel()
    qtbot.addWidget(panel)
    panel.resize(1100, 720)
    panel.show()
    panel.show_view(view)
    panel.show_grid(head_grid_image(view.attention, CELL, GAP, (240, 240, 240)))
    return panel


def pixel(color: QColor) -> tuple[int, int, int]:
    return color.red(), color.green(), color.blue()


def test_layer_head_choice_shows_that_heads_matrix(qtbot: QtBot, view: AttentionView,
                                                   shoot: Shoot) -> None:
    panel = make_panel(qtbot, view)
    n = len(view.tokens)
    assert view.attention.shape == (30, 9, n, n)
    assert panel.layer_box.count() == 30 and panel.head_box.count() == 9 + 1  # and the mean
    panel.choose(17, 4)
    np.testing.assert_array_equal(panel.heatmap.matrix, view.attention[17, 4])
    np.testing.assert_allclose(panel.heatmap.shown_image(), np.sqrt(view.attention[17, 4]))
    assert "Layer 17, head 4" in panel.heatmap.title.text()
    panel.choose(3, MEAN)
    np.testing.assert_allclose(panel.heatmap.matrix, view.head_mean()[3], atol=1e-6)
    assert "mean of heads" in panel.heatmap.title.text()
    # The read-out under the mouse names both tokens and the weight of that cell.
    plot = panel.heatmap.plot
    assert plot is not None
    qtbot.wait(20)  # let the layout settle: the plot's size decides where cells are
    qtbot.mouseMove(plot.viewport(), plot.cell_center(n - 1, 3).toPoint())
    qtbot.waitUntil(lambda: "→" in panel.heatmap.readout.text(), timeout=2000)
    readout = panel.heatmap.readout.text()
    assert f"token {n - 1}" in readout and "token 3" in readout
    shoot(panel, "attention-mean")


def test_click_a_thumbnail_enlarges_that_head(qtbot: QtBot, view: AttentionView,
                                              shoot: Shoot) -> None:
    panel = make_panel(qtbot, view)
    assert panel.grid.has_grid()
    rect = panel.grid.cell_rect(12, 7)
    qtbot.mouseClick(panel.grid, Qt.MouseButton.LeftButton, pos=rect.center())
    assert (panel.current_layer_index(), panel.current_head()) == (12, 7)
    assert panel.views.currentWidget() is panel.heatmap
    np.testing.assert_array_equal(panel.heatmap.matrix, view.attention[12, 7])
    # The thumbnail drawn there is that head's matrix: its first pixel row, first column
    # shows the first query's weight on the first key (a 40-pixel thumb of 12 tokens is
    # each value repeated, nearest neighbour).
    grab = panel.grid.grab().toImage()
    lut = colormap_lut()
    value = float(scaled(view.attention[12, 7, 0, 0]))
    expected = tuple(int(c) for c in lut[int(value * 255 + 0.5)])
    inner = rect.topLeft() + QPoint(1, 1)
    assert pixel(grab.pixelColor(inner)) == expected
    last = view.attention[12, 7, -1]
    corner = rect.bottomRight() - QPoint(1, 1)  # last query on the last key
    expected_last = tuple(int(c) for c in lut[int(float(np.sqrt(last[-1])) * 255 + 0.5)])
    assert pixel(grab.pixelColor(corner)) == expected_last
    # Layer 2, head 1 of SmolLM2 attends mostly to the previous token: a clear diagonal.
    qtbot.mouseClick(panel.grid, Qt.MouseButton.LeftButton, pos=panel.grid.cell_rect(2, 1).center())
    matrix = view.attention[2, 1]
    assert (matrix[1:].argmax(axis=1) == np.arange(len(view.tokens) - 1)).mean() > 0.5
    shoot(panel, "attention")


def test_lines_follow_the_selected_token(qtbot: QtBot, view: AttentionView,
                                         shoot: Shoot) -> None:
    panel = make_panel(qtbot, view)
    panel.choose(20, 2)
    panel.views.setCurrentIndex(1)
    lines = panel.lines
    n = len(view.tokens)
    assert lines.selected == n - 1  # the last token, until another is chosen
    row = view.attention[20, 2, n - 1]
    assert lines.line_weights() == [(k, pytest.approx(float(w))) for k, w in enumerate(row)
                                    if w >= 0.005]
    qtbot.mouseClick(lines, Qt.MouseButton.LeftButton, pos=lines.row_rect(5, True).center())
    assert lines.selected == 5
    drawn = dict(lines.line_weights())
    assert max(drawn) <= 5  # a token never looks ahead
    for key, weight in drawn.items():
        assert weight == pytest.approx(float(view.attention[20, 2, 5, key]))
    # Pinned by the click: hovering another token no longer moves the choice.
    qtbot.mouseMove(lines, lines.row_rect(2, True).center())
    assert lines.selected == 5
    shoot(panel, "attention-lines")
    panel.setPalette(dark_palette())
    shoot(panel, "attention-lines-dark")


def test_empty_text_says_what_to_do(qtbot: QtBot) -> None:
    panel = AttentionPanel()
    qtbot.addWidget(panel)
    assert panel.prompt.text() == EXAMPLE
    panel.prompt.set_text("   ")
    with qtbot.assertNotEmitted(panel.capture_requested):
        panel.prompt.capture_button.click()
    assert "Type a text first" in panel.prompt.status.text()


def test_capture_through_the_engine_and_last_reply(qtbot: QtBot, wired: Wired,
                                                   shoot: Shoot) -> None:
    panel = wired.panel.show_attention()
    panel.prompt.capture_button.click()
    assert not panel.prompt.capture_button.isEnabled()  # busy: one capture at a time
    assert panel.prompt.status.text()  # says what the engine is doing
    qtbot.waitUntil(lambda: panel.view is not None and panel.grid.has_grid(),
                    timeout=TIMEOUT_MS)
    view = panel.view
    assert view is not None and view.text == EXAMPLE
    assert view.attention.shape[:2] == (30, 9)
    assert panel.prompt.capture_button.isEnabled()
    assert f"{len(view.tokens)} tokens" in panel.prompt.status.text()
    np.testing.assert_array_equal(panel.heatmap.matrix, view.attention[0, 0])

    panel.last_reply_requested.emit()  # an empty chat: a clear message, no request
    assert "no reply yet" in panel.prompt.status.text()
    wired.conversation[:] = [ChatMessage("user", "What is the capital of France?"),
                             ChatMessage("assistant", "The capital of France is Paris.")]
    panel.prompt.reply_button.click()
    qtbot.waitUntil(lambda: panel.view is not None and panel.view.reply_start > 0
                    and panel.grid.has_grid(), timeout=TIMEOUT_MS)
    view = panel.view
    assert "".join(t.text for t in view.tokens[view.reply_start:]) == (
        "The capital of France is Paris.")
    assert "in its conversation" in panel.prompt.status.text()
    assert not panel.views.isTabEnabled(2)  # not grounded: no passages
    assert wired.errors == []
    shoot(wired.panel, "attention-reply")


def test_grounded_reply_shows_attention_per_passage(qtbot: QtBot, wired: Wired,
                                                    shoot: Shoot) -> None:
    question = "Where is the Eiffel Tower?"
    sources = (
        Source(1, "/docs/paris.md", None, "Landmarks", "The Eiffel Tower stands in Paris, "
               "on the Champ de Mars, next to the Seine.", "travel", 1, 0.03, 0.8, 4.0, 1, 1, 1),
        Source(2, "/docs/cooking.pdf", 3, None, "Bake the bread for forty minutes until the "
               "crust is golden.", "travel", 2, 0.01, 0.2, None, 2, None, 2),
    )
    messages = (ChatMessage("user", grounded_question(question, sources)),)
    grounding = Grounding(question, ("travel",), sources, 0, messages, "", 2048)
    reply = "The Eiffel Tower is in Paris [1]."
    wired.engine.worker.grounded.emit(1, 2, grounding)
    wired.conversation[:] = [ChatMessage("user", question), ChatMessage("assistant", reply)]
    panel = wired.panel.show_attention()
    panel.prompt.reply_button.click()
    qtbot.waitUntil(lambda: panel.views.isTabEnabled(2), timeout=TIMEOUT_MS)
    view = panel.view
    assert view is not None and question in view.text and "Bake the bread" in view.text
    rows = panel.passages.rows()
    assert [name for name, _ in rows] == ["[1] paris.md › Landmarks", "[2] cooking.pdf, page 3"]
    spans = passage_spans(view, grounding)
    assert all(stop > first for _, (first, stop) in spans)
    expected = view.span_attention([span for _, span in spans])
    for (_, share), want in zip(rows, expected, strict=True):
        assert share == pytest.approx(want, abs=1e-6)
        assert 0.0 < share < 1.0
    panel.views.setCurrentIndex(2)
    shoot(wired.panel, "attention-passages")


def test_no_model_loaded_says_so(qtbot: QtBot, unloaded: Wired) -> None:
    panel = unloaded.panel.show_attention()
    panel.prompt.capture_button.click()
    qtbot.waitUntil(lambda: panel.prompt.capture_button.isEnabled(), timeout=TIMEOUT_MS)
    assert "No model is loaded" in panel.prompt.status.text()
    assert panel.view is None
    assert unloaded.errors and "No model is loaded" in unloaded.errors[0]


def test_heads_averaged_capture_shows_one_column(qtbot: QtBot, learn_engine: EngineClient,
                                                 view: AttentionView) -> None:
    """What the panel gets for a long text: the engine averaged heads to save memory."""
    averaged = learn_engine.attention(TEXT, mean_heads=True)
    panel = AttentionPanel()
    qtbot.addWidget(panel)
    panel.show_view(averaged)
    panel.show_grid(head_grid_image(averaged.attention, CELL, GAP, (240, 240, 240)))
    assert averaged.heads_averaged and averaged.attention.shape[1] == 1
    assert [panel.head_box.itemText(i) for i in range(panel.head_box.count())] == [
        "mean of heads"]
    assert "heads averaged" in panel.prompt.status.text()
    assert panel.grid.cell_at(panel.grid.cell_rect(4, 1).center()) is None  # one column
    qtbot.mouseClick(panel.grid, Qt.MouseButton.LeftButton,
                     pos=panel.grid.cell_rect(4, 0).center())
    assert (panel.current_layer_index(), panel.current_head()) == (4, MEAN)
    np.testing.assert_allclose(panel.heatmap.matrix, view.head_mean()[4], atol=1e-3)


def test_a_long_text_is_captured_within_the_memory_budget(qtbot: QtBot, wired: Wired) -> None:
    panel = wired.panel.show_attention()
    text = ("Old maps show roads that no longer exist and leave out cities that grew up "
            "afterwards, while the harbour records list every ship that came in. ") * 12
    panel.prompt.set_text(text)
    panel.prompt.capture_button.click()
    qtbot.waitUntil(lambda: panel.view is not None and panel.grid.has_grid(),
                    timeout=TIMEOUT_MS)
    view = panel.view
    n = len(view.tokens)
    assert 30 * 9 * n * n > CELL_BUDGET  # all heads would not fit
    assert view.heads_averaged and view.attention.shape == (30, 1, n, n)
    assert view.attention.size <= CELL_BUDGET
    assert "parts were left out" in panel.prompt.status.text()
    assert panel.head_box.count() == 1
