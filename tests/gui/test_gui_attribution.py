"""The Attribution tab in the real window: estimate, run with progress, shading, Cancel."""

from __future__ import annotations

from guitools import REPLY_TIMEOUT_MS, OpenWindow, send_and_wait
from pytestqt.qtbot import QtBot

from ui.learn import shading


def test_attribution_estimates_runs_and_shades_the_prompt(qtbot: QtBot,
                                                          open_window: OpenWindow) -> None:
    window = open_window()
    window.tabs.setCurrentWidget(window.learn)
    panel = window.learn.show_attribution()
    # A raw prompt of three sentences: a few short decodes, as the suite's machine may be busy.
    prompt = ("Mira keeps her keys in the blue jar. Tom keeps his in a drawer. "
              "Mira's keys are in the")
    panel.set_request(prompt, " blue jar.", rendered=prompt)
    panel.set_granularity("sentence")
    assert not panel.start_button.isEnabled()  # the estimate comes first
    panel.estimate_button.click()
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=REPLY_TIMEOUT_MS)
    assert "tokens to decode" in panel.status.text()
    panel.start_button.click()
    assert panel.cancel_button.isEnabled() and not panel.estimate_button.isEnabled()
    qtbot.waitUntil(lambda: panel.result() is not None, timeout=3 * REPLY_TIMEOUT_MS)
    result = panel.result()
    assert result is not None and not result.cancelled
    assert [u.text for u in result.units][0] == "Mira keeps her keys in the blue jar."
    assert "parts removed" in panel.status.text()
    assert not panel.cancel_button.isEnabled()
    # One shade a unit; the strongest unit has the strongest warm shade, listed first.
    assert panel.text.token_count == len(result.units) == len(panel.backgrounds)
    top = result.ranked()[0]
    assert panel.ranked.item(0).text().startswith(f"{top.score:+.3f}")
    base = shading.base(panel.palette())
    distance = [abs(c.red() - base.red()) + abs(c.green() - base.green())
                + abs(c.blue() - base.blue()) for c in panel.backgrounds]
    helped = [distance[u.index] for u in result.units if u.score is not None and u.score > 0]
    assert max(helped) == distance[top.index] > 0
    assert f"{top.score:+.3f}" in panel.text.tooltip_at(top.index)


def test_cancel_stops_a_long_attribution(qtbot: QtBot, open_window: OpenWindow) -> None:
    window = open_window()
    window.tabs.setCurrentWidget(window.learn)
    panel = window.learn.show_attribution()
    words = " ".join("the cat sat on a mat and".split() * 40)  # 280 tokens
    panel.set_request(words, " end.")
    panel.set_granularity("token")
    panel.estimate_button.click()
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=REPLY_TIMEOUT_MS)
    panel.start_button.click()
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: not panel.cancel_button.isEnabled(), timeout=REPLY_TIMEOUT_MS)
    result = panel.result()
    if result is None:  # stopped while the whole prompt was read: nothing measured
        assert "Cancelled" in panel.status.text()
    else:
        assert result.cancelled and "Stopped after" in panel.status.text()
        assert result.done < result.estimate.scored_units
    # The engine is free again: the next estimate answers.
    panel.set_request("Paris is in France. The capital of France is", " Paris.")
    panel.estimate_button.click()
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=REPLY_TIMEOUT_MS)


def test_last_chat_reply_is_brought_here_with_its_conversation(
        qtbot: QtBot, open_window: OpenWindow) -> None:
    window = open_window()
    send_and_wait(qtbot, window, "Name a colour.")
    window.tabs.setCurrentWidget(window.learn)
    panel = window.learn.show_attribution()
    panel.last_reply_button.click()
    assert panel.prompt_edit.toPlainText() == "Name a colour."
    assert panel.reply_edit.toPlainText().strip()
    assert panel.granularity() == "sentence"
    request = panel.request()
    assert request.messages and request.messages[-1].content == "Name a colour."
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=REPLY_TIMEOUT_MS)
