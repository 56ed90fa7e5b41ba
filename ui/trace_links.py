"""The "Agent trace" line under a reply that used tools: a link inside the chat document
(a scheme of our own, like the branch arrows) that opens the trace in Learn › Agent trace."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QTextBlockFormat, QTextCharFormat, QTextFrame

from ui.message_render import Theme

TRACE_SCHEME = "glassbox-trace"


def parse_trace_link(url: QUrl) -> int:
    """The message id of a link made here."""
    return int(url.path())


def trace_line_text(trace: dict[str, Any]) -> str:
    steps = trace.get("steps") or []
    calls = [s["call"]["name"] for s in steps if isinstance(s, dict) and s.get("call")]
    if not calls:
        return f"⚙ Agent trace · {len(steps)} steps, no tool called"
    names = ", ".join(dict.fromkeys(str(c) for c in calls))
    return f"⚙ Agent trace · {len(calls)} tool call{'s' if len(calls) > 1 else ''}: {names}"


def insert_trace_line(frame: QTextFrame, message_id: int, trace: dict[str, Any],
                      theme: Theme) -> None:
    cursor = frame.lastCursorPosition()
    block = QTextBlockFormat()
    block.setTopMargin(4)
    cursor.insertBlock(block, QTextCharFormat())
    fmt = QTextCharFormat()
    fmt.setAnchor(True)
    fmt.setAnchorHref(f"{TRACE_SCHEME}:{message_id}")
    fmt.setForeground(theme.accent)
    fmt.setToolTip("Open this reply's steps in Learn › Agent trace: the prompt with the tool "
                   "schemas, what the model wrote, each call and its result")
    cursor.insertText(trace_line_text(trace), fmt)
