"""SurprisePanel fed with the real per-token probabilities of the bundled model; LearnPanel."""

from __future__ import annotations

import math

from learntools import Shoot, dark_palette
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from core.engine.client import EngineClient
from ui.learn.learn_panel import LearnPanel
from ui.learn.next_token_panel import NextTokenPanel
from ui.learn.surprise_panel import SurprisePanel
from ui.learn.tokenizer_panel import TokenizerPanel

TEXT = ("The capital of France is Paris. The capital of Germany is Berlin. "
        "The capital of Italy is a purple elephant.")


def distance(a: QColor, b: QColor) -> int:
    return sum(abs(x - y) for x, y in zip(a.getRgb()[:3], b.getRgb()[:3], strict=True))


def test_shading_perplexity_and_tooltips(qtbot: QtBot, learn_engine: EngineClient,
                                         shoot: Shoot) -> None:
    view = learn_engine.surprise(TEXT)
    panel = SurprisePanel()
    qtbot.addWidget(panel)
    panel.set_text(TEXT)
    panel.show_view(view, "SmolLM2-135M-Instruct")
    assert panel.main.tokens.token_count == len(view.tokens)
    assert f"{view.perplexity:.2f}" in panel.perplexity_label.text()
    # Lower probability, stronger colour: the shade's distance from the base never shrinks as
    # the probability falls.
    base = panel.palette().base().color()
    shades = sorted(((math.exp(t.logprob), distance(c, base))
                     for t, c in zip(view.tokens, panel.main.backgrounds, strict=True)),
                    reverse=True)
    strengths = [s for _, s in shades]
    assert strengths == sorted(strengths) and strengths[-1] > strengths[0]
    surprising = min(range(len(view.tokens)), key=lambda i: view.tokens[i].logprob)
    tip = panel.main.tokens.tooltip_at(surprising)
    assert "expected instead" in tip and "%" in tip
    shoot(panel, "surprise")


def test_measure_and_comparison(qtbot: QtBot, learn_engine: EngineClient, shoot: Shoot) -> None:
    panel = SurprisePanel()
    qtbot.addWidget(panel)
    panel.set_text(TEXT)
    with qtbot.waitSignal(panel.measure_requested, timeout=1000) as blocker:
        panel.measure_button.click()
    assert blocker.args == [TEXT]
    view = learn_engine.surprise(TEXT)
    other = learn_engine.surprise(TEXT, top=3)  # a second reading, standing in for a base model
    panel.show_view(view, "SmolLM2-135M-Instruct")
    assert not panel.comparison.isVisibleTo(panel)
    panel.show_comparison(other, "SmolLM2-135M (base)")
    assert panel.comparison.isVisibleTo(panel)
    assert "SmolLM2-135M (base)" in panel.comparison.header.text()
    assert f"{other.perplexity:.2f}" in panel.comparison.header.text()
    panel.setPalette(dark_palette())
    shoot(panel, "surprise-compare-dark")


def test_empty_text_does_not_measure(qtbot: QtBot) -> None:
    panel = SurprisePanel()
    qtbot.addWidget(panel)
    with qtbot.assertNotEmitted(panel.measure_requested):
        panel.measure_button.click()


def test_learn_panel_holds_a_tab_per_view(qtbot: QtBot) -> None:
    learn = LearnPanel()
    qtbot.addWidget(learn)
    assert [learn.tabText(i) for i in range(learn.count())] == [
        "Tokenizer", "Next token", "Surprise", "Attention", "Logit lens", "Embedding maps",
        "Anatomy", "Quantization lab", "Fine-tune lab", "Agent trace", "Steering",
        "Attribution", "Boundary playground", "Tiny transformer"]
    assert isinstance(learn.show_surprise(), SurprisePanel) and learn.currentIndex() == 2
    assert isinstance(learn.show_next_token(), NextTokenPanel)
    assert isinstance(learn.show_tokenizer(), TokenizerPanel)
