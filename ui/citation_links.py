"""Citations in a grounded reply: [n] becomes a link to passage n, and a Sources line follows.

Links use the `cite:` scheme, `cite:<message id>/<number>`, which the chat view hands to the
window instead of opening anything; nothing here is fetched or executed.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRegularExpression, QUrl
from PySide6.QtGui import QColor, QTextBlockFormat, QTextCharFormat, QTextCursor, QTextFrame

SCHEME = "cite"
_CITATION = QRegularExpression(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")


def cite_url(message_id: int, number: int) -> str:
    return f"{SCHEME}:{message_id}/{number}"


def parse_cite_url(url: QUrl) -> tuple[int, int] | None:
    """(message id, passage number) of a citation link, or None for any other link."""
    if url.scheme() != SCHEME:
        return None
    message, _, number = url.path().partition("/")
    if not (message.isdigit() and number.isdigit()):
        return None
    return int(message), int(number)


def _link_format(href: str, color: QColor, tooltip: str) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setAnchor(True)
    fmt.setAnchorHref(href)
    fmt.setForeground(color)
    fmt.setFontUnderline(False)
    fmt.setToolTip(tooltip)
    return fmt


def link_citations(frame: QTextFrame, message_id: int, labels: dict[int, str],
                   color: QColor) -> set[int]:
    """Turn each [n] (and [n, m]) in the frame into links to the passages that exist;
    returns the numbers linked (the passages the reply cites). Code blocks are left alone."""
    doc = frame.document()
    end = frame.lastPosition()
    found: list[tuple[int, int, list[int]]] = []
    cursor = doc.find(_CITATION, frame.firstPosition())
    while not cursor.isNull() and cursor.selectionEnd() <= end:
        in_code = cursor.currentFrame() is not frame
        numbers = [int(n) for n in cursor.selectedText()[1:-1].replace(";", ",").split(",")]
        if not in_code and all(n in labels for n in numbers):
            found.append((cursor.selectionStart(), cursor.selectionEnd(), numbers))
        cursor = doc.find(_CITATION, cursor)
    for start, stop, numbers in reversed(found):
        edit = QTextCursor(doc)
        edit.setPosition(start)
        edit.setPosition(stop, QTextCursor.MoveMode.KeepAnchor)
        edit.removeSelectedText()
        for number in numbers:  # [1, 2] becomes [1][2]: one link per passage
            edit.insertText(f"[{number}]", _link_format(cite_url(message_id, number), color,
                                                        labels[number]))
    return {n for _, _, numbers in found for n in numbers}


def mark_supported_sentences(frame: QTextFrame, message_id: int, labels: dict[int, str],
                             marks: Sequence[tuple[str, int, float]], color: QColor) -> set[int]:
    """After each sentence Glassbox matched to a passage, a small muted [n] link (the model did
    not write it, so it looks different from the model's own citations). Returns the numbers.

    Sentences are found by their last words, since Markdown may have restyled the rest."""
    doc = frame.document()
    marked: set[int] = set()
    at = frame.firstPosition()
    for sentence, number, share in marks:
        if number not in labels:
            continue
        tail = " ".join(sentence.split()[-6:]).strip("*_`")
        found = doc.find(tail, at) if tail else None
        if found is None or found.isNull() or found.selectionEnd() > frame.lastPosition():
            continue
        edit = QTextCursor(doc)
        edit.setPosition(found.selectionEnd())
        fmt = _link_format(cite_url(message_id, number), color,
                           f"{share:.0%} of this sentence's words are in passage {number}: "
                           f"{labels[number]} (matched by Glassbox, not cited by the model)")
        fmt.setVerticalAlignment(QTextCharFormat.VerticalAlignment.AlignSuperScript)
        edit.insertText(f"[{number}]", fmt)
        at = edit.position()
        marked.add(number)
    return marked


def insert_sources_line(frame: QTextFrame, message_id: int, labels: dict[int, str],
                        cited: set[int], color: QColor, muted: QColor) -> None:
    """A last paragraph listing every passage the reply was given; cited ones in bold."""
    cursor = frame.lastCursorPosition()
    if cursor.block().length() > 1:
        cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
    plain = QTextCharFormat()
    plain.setForeground(muted)
    cursor.insertText("Sources: ", plain)
    for i, (number, label) in enumerate(sorted(labels.items())):
        if i:
            cursor.insertText("  ·  ", plain)
        fmt = _link_format(cite_url(message_id, number), color, f"Show passage {number}")
        fmt.setFontWeight(700 if number in cited else 400)
        cursor.insertText(f"[{number}] {label}", fmt)
