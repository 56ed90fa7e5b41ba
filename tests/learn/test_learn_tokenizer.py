"""TokenizerPanel fed with the real bundled model's tokens."""

from __future__ import annotations

import re

from learntools import Shoot, dark_palette
from pytestqt.qtbot import QtBot

from core.engine.client import EngineClient
from core.engine.introspect_types import TokenPiece
from ui.learn.pieces import REPLACEMENT, label, segments
from ui.learn.tokenizer_panel import TokenizerPanel

TEXT = "Hello wörld <|im_start|>user\n  tabs\tand 日本語 spaces"


def make_panel(qtbot: QtBot) -> TokenizerPanel:
    panel = TokenizerPanel()
    qtbot.addWidget(panel)
    return panel


def test_chips_counts_and_whitespace(qtbot: QtBot, learn_engine: EngineClient,
                                     shoot: Shoot) -> None:
    pieces = learn_engine.tokenize(TEXT)
    panel = make_panel(qtbot)
    panel.set_text(TEXT)
    panel.show_tokens(pieces, TEXT)
    assert panel.chips.token_count == len(pieces)
    # One anchor per chip (Qt splits a chip's anchor around a line break, so count distinct).
    assert len(set(re.findall(r'href="tok:(\d+)"', panel.chips.toHtml()))) == len(pieces)
    per = len(TEXT) / len(pieces)
    assert panel.counts_label.text().replace("<b>", "").replace("</b>", "") == (
        f"{len(pieces)} tokens · {len(TEXT)} characters · {per:.2f} characters per token")
    shown = panel.chips.toPlainText()
    for mark in "·↵→":
        assert mark in shown
    special = next(i for i, p in enumerate(pieces) if p.special)
    assert "special" in panel.chips.tooltip_at(special)
    assert f"id {pieces[0].id}" in panel.chips.tooltip_at(0)
    assert "48 65 6c 6c 6f" in panel.chips.tooltip_at(0)  # "Hello"'s bytes
    shoot(panel, "tokenizer")
    panel.setPalette(dark_palette())  # re-rendered for the new palette
    shoot(panel, "tokenizer-dark")
    assert panel.chips.token_count == len(pieces)


def test_partial_utf8_pieces_show_their_bytes(qtbot: QtBot, learn_engine: EngineClient) -> None:
    pieces = learn_engine.tokenize("日本語 and 🙂")
    partial = [p for p in pieces if REPLACEMENT in p.text]
    assert partial, "SmolLM2 splits these characters across tokens"
    panel = make_panel(qtbot)
    panel.show_tokens(pieces, "日本語 and 🙂")
    shown = panel.chips.toPlainText()
    assert REPLACEMENT not in shown
    for piece in partial:
        hex_runs = [run for run, is_hex in segments(piece.text, piece.bytes_hex) if is_hex]
        assert hex_runs and all(f"‹{run}›" in shown for run in hex_runs)
    # Every byte is accounted for: text runs re-encoded plus hex runs give the piece's bytes.
    for piece in pieces:
        rebuilt = b"".join(bytes.fromhex(run) if is_hex else run.encode()
                           for run, is_hex in segments(piece.text, piece.bytes_hex))
        assert rebuilt.hex() == piece.bytes_hex


def test_half_a_real_piece_shows_hex() -> None:
    whole = "e69cac"  # 本, one real SmolLM2 piece's bytes; cut in half below
    assert label(REPLACEMENT, whole[:4]) == "‹e6 9c›"
    assert label(" " + REPLACEMENT, "20" + whole[:2]) == "·‹e6›"
    assert label("a\tb\n", "6109620a") == "a→b↵"


def test_special_toggle_emits_at_once(qtbot: QtBot) -> None:
    panel = make_panel(qtbot)
    panel.set_text("<|im_start|>user")
    with qtbot.waitSignal(panel.text_changed, timeout=1000) as blocker:
        panel.special_box.click()
    assert blocker.args == ["<|im_start|>user", False]


def test_typing_is_debounced_to_one_emit(qtbot: QtBot) -> None:
    panel = make_panel(qtbot)
    panel.show()
    received: list[tuple[str, bool]] = []
    panel.text_changed.connect(lambda text, special: received.append((text, special)))
    qtbot.keyClicks(panel.input, "Hello there")
    qtbot.wait(300)
    assert received == [("Hello there", True)]


def test_two_thousand_characters_render_every_chip(qtbot: QtBot,
                                                   learn_engine: EngineClient) -> None:
    # How fast is bench/learn_panels.py's business (a ratio against a plain text box); a time
    # limit here failed a loaded CI run.
    text = ("The quick brown fox jumps over the lazy dog.\n\tIndented: 日本語 ")[:60] * 34
    text = text[:2000]
    pieces = learn_engine.tokenize(text)
    panel = make_panel(qtbot)
    panel.resize(900, 600)
    panel.show()
    panel.show_tokens(pieces, text)
    qtbot.wait(1)
    assert panel.chips.token_count == len(pieces) > 400


def test_pieces_roundtrip_type() -> None:
    piece = TokenPiece(1, "<|im_start|>", "3c7c696d5f73746172747c3e", True)
    assert label(piece.text, piece.bytes_hex) == "<|im_start|>"
