"""AnatomyPanel with the bundled model's real metadata, tensors and weight histograms."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from inside_fixtures import TIMEOUT_MS, Wired, wire
from learntools import Shoot
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.engine.client import EngineClient
from core.gguf.anatomy_types import AnatomyView
from ui.learn.anatomy_panel import AnatomyPanel, shown_value
from ui.learn.anatomy_tensor_model import human_bytes


@pytest.fixture
def wired(qtbot: QtBot) -> Iterator[Wired]:
    yield from wire(qtbot)


@pytest.fixture(scope="module")
def anatomy(learn_engine: EngineClient) -> AnatomyView:
    return learn_engine.anatomy()


def make_panel(qtbot: QtBot, view: AnatomyView) -> AnatomyPanel:
    panel = AnatomyPanel()
    qtbot.addWidget(panel)
    panel.resize(1100, 720)
    panel.show()
    panel.show_view(view)
    return panel


def test_tables_summary_sort_and_filter(qtbot: QtBot, anatomy: AnatomyView) -> None:
    panel = make_panel(qtbot, anatomy)
    assert panel.tensor_row_count() == len(anatomy.tensors) == 272
    assert panel.metadata.rowCount() == len(anatomy.metadata)
    summary = panel.summary.text()
    for fact in ("llama", "30", "9", "3 (each shared by 3 query heads)", "576", "8,192 tokens",
                 "49,152 tokens", "base 100000", "tied to the token embeddings"):
        assert fact in summary, fact
    # Long arrays stay short on screen: the vocabulary is a count, not 49,152 strings.
    keys = [panel.metadata.item(r, 0).text() for r in range(panel.metadata.rowCount())]
    vocab = panel.metadata.item(keys.index("tokenizer.ggml.tokens"), 1).text()
    assert vocab == "<array of 49152>"
    template = panel.metadata.item(keys.index("tokenizer.chat_template"), 1).text()
    assert len(template) < 200 and "chars)" in template
    assert shown_value(list(range(20))) == "[0, 1, 2, 3, 4, 5, 6, 7, … 20 items]"
    # Sorting by size puts the token embeddings (Q8_0, 30 MB) first, descending.
    panel.table.sortByColumn(3, Qt.SortOrder.DescendingOrder)
    first = panel.proxy.index(0, 0).data()
    assert first == max(anatomy.tensors, key=lambda t: t.n_bytes).name == "token_embd.weight"
    assert panel.proxy.index(0, 3).data() == human_bytes(30081024) == "28.7 MB"
    assert float(panel.proxy.index(0, 4).data()) == pytest.approx(8.5, abs=0.01)
    panel.filter.setText("blk.3.")
    assert panel.tensor_row_count() == sum(t.name.startswith("blk.3.")
                                           for t in anatomy.tensors) == 9
    panel.filter.setText("q4_1")
    assert panel.tensor_row_count() == sum(t.type_name == "Q4_1" for t in anatomy.tensors)
    panel.filter.setText("")
    assert panel.tensor_row_count() == 272


def test_click_a_tensor_shows_its_histogram(qtbot: QtBot, wired: Wired, shoot: Shoot) -> None:
    panel = wired.panel.show_anatomy()  # the first look reads the model
    qtbot.waitUntil(lambda: panel.view is not None, timeout=TIMEOUT_MS)
    assert panel.tensor_row_count() == len(panel.view.tensors)
    assert "parameters" in panel.status.text()
    panel.filter.setText("blk.0.attn_q")
    assert panel.tensor_row_count() == 1
    name = panel.click_tensor(0)
    assert name == "blk.0.attn_q.weight"
    qtbot.waitUntil(lambda: panel.histogram.histogram is not None, timeout=TIMEOUT_MS)
    histogram = panel.histogram.histogram
    assert histogram.tensor == name and histogram.n_values == 576 * 576
    assert int(histogram.counts.sum()) == histogram.n_values
    assert histogram.minimum < 0 < histogram.maximum
    curve = panel.histogram.plot.getPlotItem().listDataItems()[0]
    _, shown = curve.getData()
    np.testing.assert_array_equal(shown, histogram.counts)
    assert f"{histogram.n_values:,} values" in panel.histogram.title.text()
    assert wired.errors == []
    panel.filter.setText("")
    shoot(wired.panel, "anatomy")
