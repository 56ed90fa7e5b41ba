"""How a token piece is written on screen: visible whitespace and raw bytes of partial UTF-8."""

from __future__ import annotations

import html

WHITESPACE_MARKS = {" ": "·", "\n": "↵", "\t": "→", "\r": "␍"}
REPLACEMENT = "\ufffd"  # what a decoder puts where a piece holds part of a UTF-8 character


def visible(text: str) -> str:
    """`text` with spaces, newlines and tabs drawn as marks, so a learner sees every character."""
    return "".join(WHITESPACE_MARKS.get(ch, ch) for ch in text)


def is_partial(text: str) -> bool:
    return REPLACEMENT in text


def spaced_hex(bytes_hex: str) -> str:
    """'48656c' -> '48 65 6c'."""
    return " ".join(bytes_hex[i: i + 2] for i in range(0, len(bytes_hex), 2))


def segments(text: str, bytes_hex: str | None = None) -> list[tuple[str, bool]]:
    """The piece as runs of (text, is_hex): bytes that are no whole character become hex.

    Works from the bytes (not from the U+FFFD in `text`), so a real U+FFFD in the text stays
    text and a piece such as ' \\xe6' shows its space as a space and its lone byte as 'e6'.
    """
    if not bytes_hex or not is_partial(text):
        return [(text, False)]
    decoded = bytes.fromhex(bytes_hex).decode("utf-8", errors="surrogateescape")
    runs: list[tuple[str, bool]] = []
    for ch in decoded:
        is_hex = "\udc80" <= ch <= "\udcff"
        part = f"{ord(ch) - 0xDC00:02x}" if is_hex else ch
        if runs and runs[-1][1] == is_hex:
            joiner = " " if is_hex else ""
            runs[-1] = (runs[-1][0] + joiner + part, is_hex)
        else:
            runs.append((part, is_hex))
    return runs


def label(text: str, bytes_hex: str | None = None) -> str:
    """One-line plain text for a piece: whitespace marks, partial bytes as ‹e6 97›."""
    return "".join(f"‹{run}›" if is_hex else visible(run)
                   for run, is_hex in segments(text, bytes_hex)) or "∅"


def piece_html(text: str, bytes_hex: str | None = None, breaks: bool = False) -> str:
    """Escaped HTML for a piece; `breaks` puts a real line break after each ↵ mark."""
    out = []
    for run, is_hex in segments(text, bytes_hex):
        if is_hex:
            out.append(f'<span style="font-family:monospace;font-style:italic;">‹{run}›</span>')
            continue
        shown = html.escape(visible(run))
        if breaks:
            shown = shown.replace("↵", "↵<br>")
        out.append(shown)
    return "".join(out) or "∅"


def percent(prob: float) -> str:
    """A probability for people: 76.8%, 0.42%, <0.01%."""
    if prob >= 0.1:
        return f"{prob * 100:.1f}%"
    if prob >= 0.0001:
        return f"{prob * 100:.2g}%"
    return "<0.01%"
