"""The small line under a message: ‹ 2/3 › to switch alternatives, and Edit on your messages.

They are links inside the chat document (schemes of our own), so they scroll and select with
the text and need no widgets laid over it.
"""

from __future__ import annotations

from PySide6.QtCore import QUrl
from PySide6.QtGui import QFont, QTextBlockFormat, QTextCharFormat, QTextCursor, QTextFrame

from ui.message_render import Theme

BRANCH_SCHEMES = ("glassbox-prev", "glassbox-next", "glassbox-edit")


def parse_branch_link(url: QUrl) -> tuple[str, int]:
    """("prev" | "next" | "edit", message id) from a link made here."""
    return url.scheme().removeprefix("glassbox-"), int(url.path())


def insert_branch_line(frame: QTextFrame, message_id: int, role: str,
                       position: tuple[int, int], theme: Theme) -> None:
    """Append the arrows (when the message has alternatives) and, for the user's messages, an
    Edit link that forks the conversation there."""
    cursor = frame.lastCursorPosition()
    block = QTextBlockFormat()
    block.setTopMargin(4)
    cursor.insertBlock(block, QTextCharFormat())
    muted = QTextCharFormat()
    muted.setForeground(theme.muted)
    index, count = position
    if count > 1:
        _link(cursor, "‹", f"glassbox-prev:{message_id}", theme, enabled=index > 1,
              tip="Previous alternative (Alt+Left for the last reply)")
        cursor.insertText(f"  {index}/{count}  ", muted)
        _link(cursor, "›", f"glassbox-next:{message_id}", theme, enabled=index < count,
              tip="Next alternative (Alt+Right for the last reply)")
        if role == "user":
            cursor.insertText("    ", muted)
    if role == "user":
        _link(cursor, "✎ Edit", f"glassbox-edit:{message_id}", theme, enabled=True,
              tip="Change this message: the reply to it starts a new branch, the original "
                  "stays")


def _link(cursor: QTextCursor, text: str, href: str, theme: Theme, enabled: bool,
          tip: str) -> None:
    fmt = QTextCharFormat()
    fmt.setFontWeight(QFont.Weight.Bold)  # the arrows are small glyphs: make them easy to hit
    if enabled:
        fmt.setAnchor(True)
        fmt.setAnchorHref(href)
        fmt.setForeground(theme.accent)
        fmt.setToolTip(tip)
    else:
        fmt.setForeground(theme.muted)
    cursor.insertText(text, fmt)
