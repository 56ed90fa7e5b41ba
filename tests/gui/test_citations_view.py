"""Grounded replies in the chat view, written to break each citation rule, rendered for real.

A citation of a passage that does not exist is struck out with a tooltip; an answer no passage
backs says so under it; support marks never land on the question said back; the Sources line
bolds only what the reply cites; every finished reply carries its own numbers.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QFont, QTextCursor, QTextDocument, QTextFormat
from pytestqt.qtbot import QtBot

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rag"))
from citation_cases import LIGHTHOUSE, QUESTION, grounding  # noqa: E402

from core.store import StoredMessage  # noqa: E402
from ui.chat_view import ChatView  # noqa: E402
from ui.citation_links import INVALID_CITATION  # noqa: E402
from ui.message_render import NOT_BACKED  # noqa: E402
from ui.sources_panel import SourcesPanel  # noqa: E402

SHOTS = Path(os.environ.get("GLASSBOX_SHOTS", "/tmp/shots"))
STATS = {"prompt_tokens": 612, "completion_tokens": 42, "ttft_s": 0.21, "tokens_per_s": 31.46,
         "total_s": 1.5, "n_ctx": 2048}


def _reply(answer: str, mid: int = 2, stats: dict[str, object] | None = None) -> StoredMessage:
    judged = grounding().with_answer(answer)
    return StoredMessage(mid, 1, "assistant", answer, "complete", 0.0, stats or STATS,
                         judged.to_json(), parent_id=mid - 1)


def _chat(answer: str) -> list[StoredMessage]:
    return [StoredMessage(1, 1, "user", QUESTION, "complete", 0.0, None), _reply(answer)]


def _fragments(doc: QTextDocument) -> list[tuple[str, QTextFormat]]:
    found = []
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            found.append((fragment.text(), fragment.charFormat()))
            it += 1
        block = block.next()
    return found


def _invalid(view: ChatView) -> list[tuple[str, str]]:
    return [(text, fmt.toolTip()) for text, fmt in _fragments(view.document())
            if fmt.property(INVALID_CITATION) is not None]


def _weight_of(view: ChatView, text: str) -> int:
    cursor = view.document().find(text)
    assert not cursor.isNull(), f"{text!r} not shown"
    probe = QTextCursor(view.document())
    probe.setPosition(cursor.selectionStart() + 1)
    return probe.charFormat().fontWeight()


@pytest.fixture
def view(qtbot: QtBot) -> ChatView:
    widget = ChatView()
    qtbot.addWidget(widget)
    widget.resize(720, 480)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _shot(view: ChatView, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    view.grab().save(str(SHOTS / f"{name}.png"))


def test_a_valid_citation_links_and_is_the_only_bold_source(view: ChatView) -> None:
    answer = ("The keepers first lit the lighthouse in 1882 [1]. The ferry runs every hour in "
              "summer and twice a day in winter.")
    view.set_messages(_chat(answer))
    text = view.toPlainText()
    assert "Sources: [1] source-1.md" in text and not _invalid(view)
    assert NOT_BACKED not in text
    # [1] was cited; [3] only matched by Glassbox (its small mark), so it is not bold.
    assert _weight_of(view, "[1] source-1.md") == QFont.Weight.Bold.value
    assert _weight_of(view, "[3] source-3.md") == QFont.Weight.Normal.value
    assert "winter.[3]" in text  # the support mark after the uncited sentence
    _shot(view, "citation-valid")


def test_citations_of_missing_passages_are_struck_out_and_counted(view: ChatView) -> None:
    answer = ("Glass lanterns light the river town [7]. Seven bridges cross its water [9, 1].\n\n"
              "So the town glows at night [10].")
    view.set_messages(_chat(answer))
    invalid = _invalid(view)
    assert [t for t, _ in invalid] == ["[7]", "[9]", "[10]"]
    assert invalid[0][1].startswith("No passage 7: only [1]–[6] were given")
    fmt = next(f for t, f in _fragments(view.document()) if t == "[9]")
    assert fmt.fontStrikeOut() and not fmt.isAnchor()
    text = view.toPlainText()
    assert "3 citations of passages that do not exist: [7], [9], [10]" in text
    # [1] in "[9, 1]" exists: it stays a link, and it is the one bold source.
    assert _weight_of(view, "[1] source-1.md") == QFont.Weight.Bold.value
    assert f"{NOT_BACKED}: no sentence of this answer matches" in text
    _shot(view, "citation-invalid")


def test_an_unbacked_answer_says_so_and_an_echo_gets_no_mark(view: ChatView) -> None:
    # The Regenerate the issue saw: a date from memory, no citation, after the question.
    answer = f"{QUESTION} The lighthouse was first lit in 1749."
    view.set_messages(_chat(answer))
    text = view.toPlainText()
    assert f"⚠ {NOT_BACKED}" in text
    assert "keepers?[1]" not in text and "[1] source-1.md" in text
    assert _weight_of(view, "[1] source-1.md") == QFont.Weight.Normal.value  # nothing cited
    _shot(view, "citation-unbacked")

    backed = f"{QUESTION} They first lit it in 1882, after three winters of building."
    view.set_messages(_chat(backed))
    text = view.toPlainText()
    assert NOT_BACKED not in text
    assert "keepers?[1]" not in text and "building.[1]" in text  # the answer, not the echo


def test_each_reply_shows_its_own_numbers(view: ChatView) -> None:
    view.set_messages([
        StoredMessage(1, 1, "user", "Hi", "complete", 0.0, None),
        StoredMessage(2, 1, "assistant", "Hello there.", "complete", 0.0, STATS, parent_id=1),
        StoredMessage(3, 1, "user", "Again", "complete", 0.0, None, parent_id=2),
        StoredMessage(4, 1, "assistant", "Hello again.", "interrupted", 0.0,
                      {**STATS, "completion_tokens": 1, "tokens_per_s": 12.0}, parent_id=3),
    ])
    text = view.toPlainText()
    assert "42 tokens · 31.5 tokens/s · first token 0.21 s · prompt 612 tokens" in text
    assert "1 token · 12.0 tokens/s" in text
    assert text.count("tokens/s") == 2  # none under the user's messages
    _shot(view, "reply-numbers")


def test_the_sources_pane_counts_what_cannot_be_trusted(qtbot: QtBot) -> None:
    panel = SourcesPanel()
    qtbot.addWidget(panel)
    panel.show_grounding(grounding().with_answer("Bees [7] and more bees [9]."))
    detail = panel.detail.text()
    assert "2 citations of passages that do not exist ([7], [9])" in detail
    assert NOT_BACKED.lower() in detail.lower()
    panel.show_grounding(grounding().with_answer(f"It was first lit in 1882 [1]. {LIGHTHOUSE}"))
    assert "do not exist" not in panel.detail.text()
    assert NOT_BACKED.lower() not in panel.detail.text().lower()
