"""Explanations where the number is (issue 18): each sampler stage says why it changed a token,
grouped-query attention is explained where "KV" appears, Surprise's footer tells the truth
about the first token."""

from __future__ import annotations

from learntools import Shoot
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.engine.client import EngineClient
from core.engine.types import SamplingSettings
from ui.learn.next_token_panel import NextTokenPanel, chart_rows
from ui.learn.sampler_waterfall_view import Cell

# Repeated words, a strong penalty and a small k: every stage has something to explain.
PROMPT = "The cat sat on the mat. The cat sat on the"
SETTINGS = SamplingSettings(temperature=0.7, top_k=4, top_p=0.9, min_p=0.05,
                            repeat_penalty=1.5)
REASONS = {"top-k": "beyond k = 4", "top-p": "cumulative mass", "min-p": "Below the floor"}


def test_each_stage_says_why(qtbot: QtBot, learn_engine: EngineClient, shoot: Shoot) -> None:
    panel = NextTokenPanel(SETTINGS)
    qtbot.addWidget(panel)
    panel.set_prompt(PROMPT)
    ids = [p.id for p in learn_engine.tokenize(PROMPT)]
    view = learn_engine.next_token(ids, SETTINGS, top=12)
    panel.show_view(view, PROMPT)
    rows = chart_rows(view)
    names = [s.name for s in view.stages]
    table = panel.waterfall
    explained: set[str] = set()
    for row in range(len(rows)):
        for col, name in enumerate(names):
            item = table.item(row, col)
            if table.cell_state(row, col) == Cell.REMOVED.value and name in REASONS:
                assert REASONS[name] in item.toolTip(), (name, item.toolTip())
                explained.add(name)
            if name == "penalties" and item.text().startswith("↓"):
                assert "Already in the text" in item.toolTip()
                explained.add(name)
    assert {"penalties", "top-k"} <= explained, explained
    why = panel.why_label.text()
    assert "already in the text" in why and "rank beyond k = 4" in why
    shoot(panel, "next-token-why")


def test_kv_is_explained_where_it_appears(qtbot: QtBot, learn_engine: EngineClient,
                                          shoot: Shoot) -> None:
    from ui.learn.attention_grid_view import CELL, GAP
    from ui.learn.attention_panel import AttentionPanel
    from ui.learn.heatmap_grid import head_grid_image

    panel = AttentionPanel()
    qtbot.addWidget(panel)
    assert panel.grid.empty_text() and "Capture" in panel.grid.empty_text()  # not a bare "…"
    shoot(panel, "attention-empty")
    view = learn_engine.attention("The capital of France is Paris.")
    panel.show_view(view)
    assert "Drawing" in panel.grid.empty_text()  # not "No capture yet" while it is drawn
    panel.show_grid(head_grid_image(view.attention, CELL, GAP, (240, 240, 240)))
    n_head = view.attention.shape[1]
    assert "(KV " in panel.head_box.itemText(2)
    explained = f"{n_head} query heads share {view.n_head_kv} key/value heads"
    assert explained in panel.kv_note.text() and not panel.kv_note.isHidden()
    assert explained in panel.head_box.itemData(2, Qt.ItemDataRole.ToolTipRole)
    assert panel.grid.empty_text() == ""
    shoot(panel, "attention-kv")


def test_top_p_and_min_p_say_why() -> None:
    from core.engine.introspect_types import Candidate, SamplerStage
    from ui.learn.sampler_waterfall_view import removal_reason, why_lines

    a, b, c, d = (Candidate(i, p, prob, 0.0) for i, p, prob in
                  ((1, " Paris", 0.6), (2, " Lyon", 0.3), (3, " Nice", 0.08), (4, " Metz", 0.02)))
    stages = [SamplerStage("raw", 4, [a, b, c, d]), SamplerStage("top-k", 4, [a, b, c, d]),
              SamplerStage("top-p", 3, [a, b, c]), SamplerStage("min-p", 2, [a, b])]
    settings = SamplingSettings(top_k=40, top_p=0.9, min_p=0.2)
    top_p = removal_reason(d, stages, 2, settings)
    assert "cumulative mass" in top_p and "98.0%" in top_p and "p = 0.9" in top_p
    min_p = removal_reason(c, stages, 3, settings)
    assert "Below the floor" in min_p and "0.2 × the top token's 60.0% = 12.0%" in min_p
    lines = why_lines([a, b, c, d], stages, settings)
    assert any(line.startswith("top-p removed ·Metz") for line in lines), lines
    assert any(line.startswith("min-p removed ·Nice") for line in lines), lines
