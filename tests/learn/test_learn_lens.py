"""LensPanel with the real logit lens of the bundled model; through the engine worker too."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from inside_fixtures import TIMEOUT_MS, Wired, wire
from learntools import Shoot, dark_palette
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.engine.capture_types import LensView
from core.engine.client import EngineClient
from core.engine.types import ChatMessage
from ui.learn import shading
from ui.learn.heatmap_view import short
from ui.learn.lens_panel import EXAMPLE, LensPanel, first_layer_with
from ui.learn.lens_table_model import PROB_ROLE
from ui.learn.pieces import label

PROMPT = "The capital of France is"


@pytest.fixture
def wired(qtbot: QtBot) -> Iterator[Wired]:
    yield from wire(qtbot)


@pytest.fixture(scope="module")
def lens(learn_engine: EngineClient) -> LensView:
    return learn_engine.logit_lens(PROMPT, top=5)


def make_panel(qtbot: QtBot, view: LensView) -> LensPanel:
    panel = LensPanel()
    qtbot.addWidget(panel)
    panel.resize(1100, 720)
    panel.show()
    panel.prompt.set_text(PROMPT)
    panel.show_view(view)
    return panel


def test_grid_cells_shading_and_last_row(qtbot: QtBot, learn_engine: EngineClient,
                                         lens: LensView, shoot: Shoot) -> None:
    panel = make_panel(qtbot, lens)
    model = panel.model
    n = len(lens.tokens)
    assert (model.rowCount(), model.columnCount()) == (30, n)
    # The last layer's row at the last token is the model's own top next token.
    nxt = learn_engine.next_token(PROMPT, top=3)
    last = model.index(29, n - 1)
    assert model.data(last) == short(nxt.raw[0].piece) == short(" Paris")
    assert model.data(last, PROB_ROLE) == pytest.approx(nxt.raw[0].prob, abs=0.03)
    assert "Paris" in panel.summary.text()
    first = first_layer_with(lens, n - 1)
    assert first is not None and f"layer {lens.layers[first]}" in panel.summary.text()
    assert all(lens.cells[r][n - 1].id == nxt.raw[0].id for r in range(first, 30))
    # Every cell shows its piece, shaded by its probability; the tooltip lists the top five.
    for row in (0, 14, 29):
        for col in range(n):
            index = model.index(row, col)
            cell = lens.cells[row][col]
            assert model.data(index) == short(cell.piece)
            assert model.data(index, Qt.ItemDataRole.BackgroundRole) == \
                shading.confidence_color(panel.palette(), cell.prob)
            tip = model.data(index, Qt.ItemDataRole.ToolTipRole)
            assert tip.count("%") == len(cell.top) + 1  # the candidates and the real output
    assert model.headerData(0, Qt.Orientation.Vertical) == "layer 0"
    assert model.headerData(n - 1, Qt.Orientation.Horizontal) == short(lens.tokens[-1].text)
    shoot(panel, "lens")
    panel.setPalette(dark_palette())
    assert model.data(last, Qt.ItemDataRole.BackgroundRole) == \
        shading.confidence_color(dark_palette(), lens.cells[29][n - 1].prob)
    shoot(panel, "lens-dark")


def test_capture_and_last_reply_through_the_engine(qtbot: QtBot, wired: Wired,
                                                   shoot: Shoot) -> None:
    panel = wired.panel.show_lens()
    assert panel.prompt.text() == EXAMPLE
    panel.prompt.capture_button.click()
    assert "output matrix" in panel.prompt.status.text()
    assert not panel.prompt.capture_button.isEnabled()
    qtbot.waitUntil(lambda: panel.view is not None, timeout=TIMEOUT_MS)
    assert "".join(t.text for t in panel.view.tokens) == EXAMPLE
    assert panel.model.rowCount() == len(panel.view.layers) == 30
    wired.conversation[:] = [ChatMessage("user", "Name a colour."),
                             ChatMessage("assistant", "Blue is a colour.")]
    panel.prompt.reply_button.click()
    qtbot.waitUntil(lambda: panel.view is not None and panel.view.reply_start > 0,
                    timeout=TIMEOUT_MS)
    view = panel.view
    assert "".join(t.text for t in view.tokens[view.reply_start:]) == "Blue is a colour."
    assert panel.model.columnCount() == len(view.tokens)
    # The reply's end is predicted as a special token: shown as text, not read as HTML.
    assert html.escape(label(view.actual[-1].piece)) in panel.summary.text()
    assert wired.errors == []
    shoot(wired.panel, "lens-reply")


def test_empty_text_and_no_reply_say_what_to_do(qtbot: QtBot, wired: Wired) -> None:
    panel = wired.panel.show_lens()
    panel.prompt.set_text("")
    with qtbot.assertNotEmitted(panel.capture_requested):
        panel.prompt.capture_button.click()
    assert "Type a text first" in panel.prompt.status.text()
    panel.prompt.reply_button.click()
    assert "no reply yet" in panel.prompt.status.text()
