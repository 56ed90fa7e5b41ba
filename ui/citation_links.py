"""Citations in a grounded reply: [n] becomes a link to passage n, and a Sources line follows.

Links use the `cite:` scheme, `cite:<message id>/<number>`, which the chat view hands to the
window instead of opening anything; nothing here is fetched or executed. A citation of a
passage that was never given is struck through in the error colour, with a tooltip saying so:
it must not look like a source.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRegularExpression, QUrl
from PySide6.QtGui import (
    QColor,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
    QTextFrame,
)

SCHEME = "cite"
_CITATION = QRegularExpression(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
# Set on the characters of a citation to a passage that does not exist (the number): for
# tests and accessibility tools, which cannot see colours.
INVALID_CITATION = QTextFormat.Property.UserProperty.value + 2


def given_range(labels: dict[int, str]) -> str:
    """"only [1]–[6] were given", "only [1] was given" or "no passages were given"."""
    numbers = sorted(labels)
    if not numbers:
        return "no passages were given"
    if len(numbers) == 1:
        return f"only [{numbers[0]}] was given"
    return f"only [{numbers[0]}]–[{numbers[-1]}] were given"


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


def _invalid_format(number: int, labels: dict[int, str], color: QColor) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(color)
    fmt.setFontStrikeOut(True)
    fmt.setToolTip(f"No passage {number}: {given_range(labels)}. The model made this "
                   "citation up; nothing backs what it cites here.")
    fmt.setProperty(INVALID_CITATION, number)
    return fmt


def link_citations(frame: QTextFrame, message_id: int, labels: dict[int, str],
                   color: QColor, invalid_color: QColor) -> tuple[set[int], list[int]]:
    """Turn each [n] (and [n, m]) in the frame into links to the passages that exist, and mark
    those of passages that do not as invalid. Returns the numbers linked (the passages the
    reply cites) and the invalid numbers, once each in order. Code blocks are left alone."""
    doc = frame.document()
    end = frame.lastPosition()
    found: list[tuple[int, int, list[int]]] = []
    cursor = doc.find(_CITATION, frame.firstPosition())
    while not cursor.isNull() and cursor.selectionEnd() <= end:
        in_code = cursor.currentFrame() is not frame
        if not in_code:
            numbers = [int(n) for n in
                       cursor.selectedText()[1:-1].replace(";", ",").split(",")]
            found.append((cursor.selectionStart(), cursor.selectionEnd(), numbers))
        cursor = doc.find(_CITATION, cursor)
    for start, stop, numbers in reversed(found):
        edit = QTextCursor(doc)
        edit.setPosition(start)
        edit.setPosition(stop, QTextCursor.MoveMode.KeepAnchor)
        edit.removeSelectedText()
        for number in numbers:  # [1, 2] becomes [1][2]: one link per passage
            fmt = (_link_format(cite_url(message_id, number), color, labels[number])
                   if number in labels else _invalid_format(number, labels, invalid_color))
            edit.insertText(f"[{number}]", fmt)
    numbers = [n for _, _, group in found for n in group]
    return {n for n in numbers if n in labels}, list(dict.fromkeys(
        n for n in numbers if n not in labels))


def mark_supported_sentences(frame: QTextFrame, message_id: int, labels: dict[int, str],
                             marks: Sequence[tuple[str, int, float]], color: QColor) -> set[int]:
    """After each sentence Glassbox matched to a passage, a small muted [n] link (the model did
    not write it, so it looks different from the model's own citations). Returns the numbers.

    Sentences are found by their first words, then their last words after them (Markdown
    may have restyled the middle), so a mark never lands on an earlier sentence that happens
    to end the same way, such as the question said back."""
    doc = frame.document()
    marked: set[int] = set()
    at = frame.firstPosition()
    for sentence, number, share in marks:
        if number not in labels:
            continue
        words = sentence.split()
        head = doc.find(" ".join(words[:3]).strip("*_`#>- "), at)
        start = head.selectionStart() if not head.isNull() else at
        tail = " ".join(words[-6:]).strip("*_`")
        found = doc.find(tail, start) if tail else None
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
                        cited: set[int], marked: set[int], color: QColor,
                        muted: QColor) -> None:
    """A last paragraph listing every passage the reply was given. Only those the reply cites
    are bold: a passage Glassbox matched a sentence to (`marked`) says so in its tooltip."""
    cursor = frame.lastCursorPosition()
    if cursor.block().length() > 1:
        cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
    plain = QTextCharFormat()
    plain.setForeground(muted)
    cursor.insertText("Sources: ", plain)
    for i, (number, label) in enumerate(sorted(labels.items())):
        if i:
            cursor.insertText("  ·  ", plain)
        if number in cited:
            tip = f"Passage {number}, cited by the answer: show it"
        elif number in marked:
            tip = (f"Passage {number}: not cited by the answer, but Glassbox found words of "
                   "it in a sentence (the small [n]): show it")
        else:
            tip = f"Passage {number}: given to the model, not used in the answer: show it"
        fmt = _link_format(cite_url(message_id, number), color, tip)
        fmt.setFontWeight(700 if number in cited else 400)
        # No-break spaces: an entry wraps as a whole, never "[6]" on one line, its file below.
        cursor.insertText(f"[{number}] {label}".replace(" ", "\u00a0"), fmt)
