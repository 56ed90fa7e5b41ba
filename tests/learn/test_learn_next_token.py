"""NextTokenPanel fed with real distributions and sampler stages from the bundled model."""

from __future__ import annotations

from learntools import Shoot, dark_palette
from PySide6.QtCore import Qt, QUrl
from pytestqt.qtbot import QtBot

from core.engine.client import EngineClient
from core.engine.introspect_types import NextTokenView
from core.engine.types import SamplingSettings
from ui.learn.next_token_panel import NextTokenPanel, chart_rows
from ui.learn.sampler_waterfall_view import Cell

PROMPT = "The capital of France is"
SETTINGS = SamplingSettings(temperature=0.7, top_k=40, top_p=0.9, min_p=0.05)


def prompt_ids(engine: EngineClient) -> list[int]:
    return [p.id for p in engine.tokenize(PROMPT)]


def make_panel(qtbot: QtBot, engine: EngineClient) -> tuple[NextTokenPanel, NextTokenView]:
    panel = NextTokenPanel(SETTINGS)
    qtbot.addWidget(panel)
    panel.resize(1100, 720)
    panel.set_prompt(PROMPT)
    panel.show()
    view = engine.next_token(prompt_ids(engine), SETTINGS, top=10)
    panel.show_view(view, PROMPT)
    return panel, view


def click_bar(qtbot: QtBot, panel: NextTokenPanel, row: int) -> None:
    qtbot.mouseClick(panel.bars, Qt.MouseButton.LeftButton, pos=panel.bars.row_rect(row).center())


def test_bars_waterfall_and_entropy(qtbot: QtBot, learn_engine: EngineClient,
                                    shoot: Shoot) -> None:
    panel, view = make_panel(qtbot, learn_engine)
    rows = chart_rows(view)
    assert panel.bars.bar_count() == len(rows) >= len(view.raw) == 10
    assert f"{view.entropy_bits:.2f} bits" in panel.entropy_label.text()
    assert panel.waterfall.columnCount() == len(view.stages)
    assert panel.waterfall.rowCount() == len(rows)
    removed = 0
    for row, (candidate, after) in enumerate(rows):
        states = [panel.waterfall.cell_state(row, col) for col in range(len(view.stages))]
        assert states[0] == Cell.KEPT.value  # the raw column holds every candidate
        if Cell.REMOVED.value in states:
            removed += 1
            col = states.index(Cell.REMOVED.value)
            stage = view.stages[col]
            assert candidate.id not in {c.id for c in stage.top} and len(stage.top) == stage.kept
            assert after is None and states[-1] == Cell.GONE.value
        else:
            assert after is not None or Cell.HIDDEN.value in states
    assert removed > 0, "top-p and min-p remove candidates after this prompt"
    shoot(panel, "next-token")


def test_click_a_candidate_steps_and_fork(qtbot: QtBot, learn_engine: EngineClient,
                                          shoot: Shoot) -> None:
    panel, view = make_panel(qtbot, learn_engine)
    with qtbot.waitSignal(panel.step_requested, timeout=1000) as blocker:
        click_bar(qtbot, panel, 1)
    assert blocker.args == [view.raw[1].id]
    assert panel.token_path() == [view.raw[1].id]
    assert panel.steps()[0].prob == view.raw[1].prob
    # A second click before the next view arrives would use stale candidates: ignored.
    with qtbot.assertNotEmitted(panel.step_requested):
        click_bar(qtbot, panel, 0)

    view2 = learn_engine.next_token(prompt_ids(learn_engine) + panel.token_path(), SETTINGS)
    panel.show_view(view2, PROMPT + view.raw[1].piece)
    with qtbot.waitSignal(panel.step_requested, timeout=1000):
        click_bar(qtbot, panel, 0)
    assert panel.token_path() == [view.raw[1].id, view2.raw[0].id]
    assert "%" in panel.path_view.toPlainText()  # each chosen token keeps its probability

    # Open step 0 (a click on its chip) and pick another of its candidates: the text forks.
    panel.path_view.anchorClicked.emit(QUrl("tok:0"))
    assert panel.alternatives.count() == len(view.raw)
    item = panel.alternatives.item(0)
    with qtbot.waitSignal(panel.fork_requested, timeout=1000) as blocker:
        qtbot.mouseClick(panel.alternatives.viewport(), Qt.MouseButton.LeftButton,
                         pos=panel.alternatives.visualItemRect(item).center())
    assert blocker.args == [0, view.raw[0].id]
    assert panel.token_path() == [view.raw[0].id]
    view3 = learn_engine.next_token(prompt_ids(learn_engine) + panel.token_path(), SETTINGS)
    panel.show_view(view3, PROMPT + view.raw[0].piece)
    shoot(panel, "next-token-steps")
    panel.setPalette(dark_palette())
    shoot(panel, "next-token-dark")


def test_sample_then_add_step(qtbot: QtBot, learn_engine: EngineClient) -> None:
    panel, view = make_panel(qtbot, learn_engine)
    with qtbot.waitSignal(panel.sample_requested, timeout=1000):
        panel.sample_button.click()
    chosen = view.final[0]  # what the window's sampler would answer with, here the top one
    with qtbot.waitSignal(panel.step_requested, timeout=1000) as blocker:
        panel.add_step(chosen.id)
    assert blocker.args == [chosen.id]
    assert panel.steps()[0].sampled_prob == chosen.prob


def test_sliders_emit_settings_once_debounced(qtbot: QtBot, learn_engine: EngineClient) -> None:
    panel, _ = make_panel(qtbot, learn_engine)
    received: list[SamplingSettings] = []
    panel.settings_changed.connect(received.append)
    panel.controls.spins["temperature"].setValue(1.3)
    panel.controls.sliders["top_k"].setValue(10)
    qtbot.wait(400)
    assert len(received) == 1
    assert received[0] == SamplingSettings(temperature=1.3, top_k=10, top_p=0.9, min_p=0.05)
    assert panel.controls.spins["top_k"].value() == 10
    assert panel.controls.sliders["temperature"].value() == 26  # 1.3 in 0.05 steps


def test_prompt_edit_resets_path_and_emits(qtbot: QtBot, learn_engine: EngineClient) -> None:
    panel, view = make_panel(qtbot, learn_engine)
    click_bar(qtbot, panel, 0)
    with qtbot.waitSignal(panel.prompt_changed, timeout=1000) as blocker:
        qtbot.keyClicks(panel.prompt_edit, " a")
    assert blocker.args == [PROMPT + " a"]
    assert panel.token_path() == []
