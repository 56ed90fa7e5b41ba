"""Write chat messages into a QTextDocument: Qt's own Markdown, code highlighted by pygments.

Fenced code is cut out of the Markdown before Qt sees it and inserted as character formats taken
from a pygments style, inside a frame with its own background; nothing goes through HTML, so
text from the model is never interpreted as markup. Colours come from the palette, so one code
path serves light and dark themes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QPalette,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
    QTextFrame,
    QTextFrameFormat,
)

from ui.citation_links import (
    given_range,
    insert_sources_line,
    link_citations,
    mark_supported_sentences,
)

if TYPE_CHECKING:  # pygments is imported with the first code block, not before the first paint
    from pygments.lexer import Lexer
    from pygments.style import StyleMeta
    from pygments.token import _TokenType

_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")
_MARKDOWN = QTextDocument.MarkdownFeature(
    QTextDocument.MarkdownFeature.MarkdownDialectGitHub.value
    | QTextDocument.MarkdownFeature.MarkdownNoHTML.value
)

_CODE_FRAME = QTextFormat.Property.UserProperty.value + 1  # marks a code block's frame

_MARKER = "\u2063"  # INVISIBLE SEPARATOR: never typed, so safe to search for and delete

ROLE_LABELS = {"user": "You", "assistant": "Assistant", "system": "System"}


@dataclass(frozen=True)
class Sources:
    """The passages a grounded reply was given: number -> "file, page 3"."""

    message_id: int
    labels: dict[int, str]
    # (sentence, passage number, share of words): sentences Glassbox matched to a passage
    marks: tuple[tuple[str, int, float], ...] = ()
    backed: bool | None = None  # some sentence is backed by a passage (None: not judged)


NOT_BACKED = "Not backed by your documents"


@dataclass(frozen=True)
class Segment:
    """A run of Markdown text, or one fenced code block (lang may be empty)."""

    kind: str  # "markdown" | "code"
    text: str
    lang: str = ""


def split_fences(text: str) -> list[Segment]:
    """Cut fenced code blocks out of Markdown. An unclosed fence runs to the end (streaming)."""
    segments: list[Segment] = []
    prose: list[str] = []
    code: list[str] = []
    fence = lang = ""
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if not fence and match:
            if prose:
                segments.append(Segment("markdown", "\n".join(prose)))
                prose = []
            fence, lang = match["fence"], match["info"].strip().split(" ")[0]
        elif fence and match and match["fence"][0] == fence[0] and len(match["fence"]) >= len(
            fence
        ) and not match["info"].strip():
            segments.append(Segment("code", "\n".join(code), lang))
            code, fence = [], ""
        elif fence:
            code.append(line)
        else:
            prose.append(line)
    if fence:
        segments.append(Segment("code", "\n".join(code), lang))
    elif prose and "\n".join(prose).strip():
        segments.append(Segment("markdown", "\n".join(prose)))
    return segments


def mix(a: QColor, b: QColor, amount: float) -> QColor:
    """`a` moved `amount` (0..1) of the way towards `b`."""
    return QColor.fromRgbF(
        a.redF() + (b.redF() - a.redF()) * amount,
        a.greenF() + (b.greenF() - a.greenF()) * amount,
        a.blueF() + (b.blueF() - a.blueF()) * amount,
    )


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Base).lightness() < 128


@dataclass(frozen=True)
class Theme:
    """Colours for one palette, computed once per palette change."""

    text: QColor
    muted: QColor
    accent: QColor
    user_background: QColor
    code_background: QColor
    warning: QColor
    error: QColor
    pygments_style: str

    @classmethod
    def from_palette(cls, palette: QPalette) -> Theme:
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        accent = palette.color(QPalette.ColorRole.Highlight)
        dark = is_dark(palette)
        return cls(
            text=text,
            muted=mix(text, base, 0.3),  # 0.4 was 4.3:1 on white: below WCAG AA
            accent=mix(accent, text, 0.35) if dark else accent,
            user_background=mix(base, accent, 0.16 if dark else 0.09),
            code_background=mix(base, text, 0.10 if dark else 0.05),
            warning=QColor("#e0a030") if dark else QColor("#9a6200"),
            error=QColor("#ff7b72") if dark else QColor("#c0281e"),
            pygments_style="monokai" if dark else "default",
        )


@lru_cache(maxsize=4)
def _style(name: str) -> StyleMeta:
    from pygments.styles import get_style_by_name

    return get_style_by_name(name)


@lru_cache(maxsize=64)
def _lexer(lang: str) -> Lexer:
    from pygments.lexers import TextLexer, get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        return get_lexer_by_name(lang, stripnl=False, ensurenl=False) if lang else TextLexer()
    except ClassNotFound:
        return TextLexer(stripnl=False, ensurenl=False)


def _fixed_font() -> QFont:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


class CodeFormats:
    """QTextCharFormats for pygments token types, for one theme."""

    def __init__(self, theme: Theme) -> None:
        self._theme = theme
        self._cache: dict[_TokenType, QTextCharFormat] = {}

    def get(self, ttype: _TokenType) -> QTextCharFormat:
        fmt = self._cache.get(ttype)
        if fmt is None:
            fmt = self._cache[ttype] = self._build(ttype)
        return fmt

    def _build(self, ttype: _TokenType) -> QTextCharFormat:
        from pygments.token import Token

        fmt = QTextCharFormat()
        fmt.setFont(_fixed_font())
        style = _style(self._theme.pygments_style)
        known = ttype
        while not style.styles_token(known) and known.parent is not None:
            known = known.parent
        spec = style.style_for_token(known) if style.styles_token(known) else {}
        # Plain text takes the palette's colour: pygments' default is for its own background.
        color = spec.get("color") if known not in (Token, Token.Text) else None
        fmt.setForeground(QColor(f"#{color}") if color else self._theme.text)
        if spec.get("bold"):
            fmt.setFontWeight(QFont.Weight.Bold)
        if spec.get("italic"):
            fmt.setFontItalic(True)
        return fmt


def insert_code(cursor: QTextCursor, code: str, lang: str, formats: CodeFormats,
                theme: Theme) -> None:
    """A code block in its own frame; the cursor ends up after the frame."""
    frame_format = QTextFrameFormat()
    frame_format.setBackground(theme.code_background)
    frame_format.setProperty(_CODE_FRAME, True)
    frame_format.setPadding(8)
    frame_format.setTopMargin(4)
    frame_format.setBottomMargin(4)
    parent = cursor.currentFrame()
    cursor.insertFrame(frame_format)
    for ttype, value in _lexer(lang.lower()).get_tokens(code):
        cursor.insertText(value, formats.get(ttype))
    cursor.setPosition(parent.lastPosition())


def insert_markdown(cursor: QTextCursor, text: str) -> None:
    """Markdown after the cursor's block, keeping the first paragraph's own format.

    Qt merges the first imported paragraph into the cursor's block and drops its block
    format (a leading heading or quote would become plain text). So a marker paragraph goes
    first and takes that place; it is deleted afterwards, which leaves the blocks intact.
    """
    start = cursor.position()
    cursor.insertMarkdown(_MARKER + "\n\n" + text, _MARKDOWN)
    marker = cursor.document().find(_MARKER, start)
    if not marker.isNull():
        marker.removeSelectedText()


def insert_message(root: QTextFrame, role: str, content: str, status: str, theme: Theme,
                   formats: CodeFormats, sources: Sources | None = None,
                   stats: Mapping[str, Any] | None = None) -> None:
    """Append one message as a frame of its own at the end of `root`. `sources` (a grounded
    reply's message id and passages) turn its [n] citations into links and say what in the
    reply no passage backs; `stats` (a reply's numbers) go on a small line under it."""
    cursor = root.lastCursorPosition()
    frame_format = QTextFrameFormat()
    frame_format.setPadding(10)
    frame_format.setBottomMargin(8)
    if role == "user":
        frame_format.setBackground(theme.user_background)
    frame = cursor.insertFrame(frame_format)
    _insert_header(cursor, role, theme)
    if status == "failed":
        _insert_note(frame, "⚠ This reply failed: " + (content or "no reason given."),
                     theme.error)
    else:
        _insert_body(frame, content, theme, formats)
        if sources is not None:
            _insert_grounding(frame, sources, status, theme)
    if status == "streaming":
        _insert_note(frame, "▍" if content else "…", theme.muted, italic=False,
                     new_line=not content)
    elif status == "interrupted":
        _insert_note(frame, "■ Interrupted: this reply was stopped before it finished.",
                     theme.warning)
    if stats and role == "assistant" and status in ("complete", "interrupted"):
        _insert_stats(frame, stats, theme)
    _replace_images(frame, theme)
    _compact_empty_blocks(frame)


def _insert_grounding(frame: QTextFrame, sources: Sources, status: str, theme: Theme) -> None:
    """Citations linked (or struck out), then, once the reply is complete, the support marks,
    the Sources line and what cannot be trusted: invalid citations, an unbacked answer."""
    cited, invalid = link_citations(frame, sources.message_id, sources.labels, theme.accent,
                                    theme.error)
    if status == "streaming":
        return
    marked = mark_supported_sentences(frame, sources.message_id, sources.labels,
                                      sources.marks, theme.muted)
    if sources.labels:
        insert_sources_line(frame, sources.message_id, sources.labels, cited, marked,
                            theme.accent, theme.muted)
    if invalid:
        listed = ", ".join(f"[{n}]" for n in invalid)
        _insert_note(frame, f"⚠ {len(invalid)} citation{'s' if len(invalid) > 1 else ''} "
                            f"of passages that do not exist: {listed} "
                            f"({given_range(sources.labels)}).", theme.error)
    if sources.backed is False:
        why = ("no sentence of this answer matches the passages it was given"
               if sources.labels else "nothing in them matched the question")
        _insert_note(frame, f"⚠ {NOT_BACKED}: {why}. Check it before you rely on it.",
                     theme.warning)


def stats_text(stats: Mapping[str, Any]) -> str:
    """"42 tokens · 31.5 tokens/s · first token 0.21 s · prompt 612 tokens"."""
    parts = []
    tokens = stats.get("completion_tokens")
    if isinstance(tokens, int):
        parts.append(f"{tokens:,} token{'s' if tokens != 1 else ''}")
    speed = stats.get("tokens_per_s")
    if isinstance(speed, (int, float)) and speed > 0:
        parts.append(f"{speed:.1f} tokens/s")
    first = stats.get("ttft_s")
    if isinstance(first, (int, float)) and first > 0:
        parts.append(f"first token {first:.2f} s")
    prompt = stats.get("prompt_tokens")
    if isinstance(prompt, int) and prompt:
        parts.append(f"prompt {prompt:,} tokens")
    return " · ".join(parts)


def _insert_stats(frame: QTextFrame, stats: Mapping[str, Any], theme: Theme) -> None:
    text = stats_text(stats)
    if not text:
        return
    cursor = frame.lastCursorPosition()
    block = QTextBlockFormat()
    block.setTopMargin(4)
    cursor.insertBlock(block, QTextCharFormat())
    fmt = QTextCharFormat()
    fmt.setForeground(theme.muted)
    fmt.setFontPointSize(max(QFont().pointSizeF() - 1, 7))
    fmt.setToolTip("This reply: tokens generated, generation speed, time until the first "
                   "token appeared, and the prompt's length in tokens (with any passages)")
    cursor.insertText(text, fmt)


def _insert_body(frame: QTextFrame, content: str, theme: Theme, formats: CodeFormats) -> None:
    for segment in split_fences(content):
        body = frame.lastCursorPosition()
        if segment.kind == "code":
            insert_code(body, segment.text, segment.lang, formats, theme)
        else:
            insert_markdown(body, segment.text)


def _insert_header(cursor: QTextCursor, role: str, theme: Theme) -> None:
    fmt = QTextCharFormat()
    fmt.setFontWeight(QFont.Weight.Bold)
    fmt.setForeground(theme.accent if role == "user" else theme.muted)
    cursor.insertText(ROLE_LABELS.get(role, role.title()), fmt)


def _insert_note(frame: QTextFrame, text: str, color: QColor, italic: bool = True,
                 new_line: bool = True) -> None:
    cursor = frame.lastCursorPosition()
    if new_line and cursor.block().length() > 1:
        cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
    fmt = QTextCharFormat()
    fmt.setForeground(color)
    fmt.setFontItalic(italic)
    cursor.insertText(text, fmt)


def _replace_images(frame: QTextFrame, theme: Theme) -> None:
    """Images become links with their alt text: nothing is fetched unless the user clicks."""
    doc = frame.document()
    images: list[tuple[int, int, str, str]] = []
    block = doc.findBlock(frame.firstPosition())
    while block.isValid() and block.position() <= frame.lastPosition():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            fmt = fragment.charFormat()
            if fmt.isImageFormat():
                alt = str(fmt.property(QTextFormat.Property.ImageAltText) or "")
                images.append((fragment.position(), fragment.length(),
                               fmt.toImageFormat().name(), alt))
            it += 1
        block = block.next()
    for position, length, url, alt in reversed(images):
        cursor = QTextCursor(doc)
        cursor.setPosition(position)
        cursor.setPosition(position + length, QTextCursor.MoveMode.KeepAnchor)
        link = QTextCharFormat()
        link.setAnchor(True)
        link.setAnchorHref(url)
        link.setForeground(theme.accent)
        link.setFontUnderline(True)
        link.setToolTip(f"Image not loaded: {url}")
        cursor.insertText(f"[image: {alt or url}]", link)


def _compact_empty_blocks(frame: QTextFrame) -> None:
    """Qt keeps an empty paragraph around each frame; make those thin instead of a full line."""
    doc = frame.document()
    block = doc.findBlock(max(frame.firstPosition() - 1, 0))
    end = frame.lastPosition() + 1
    while block.isValid() and block.position() <= end:
        in_code = QTextCursor(block).currentFrame().frameFormat().boolProperty(_CODE_FRAME)
        if block.length() == 1 and not in_code:
            fmt = QTextBlockFormat(block.blockFormat())
            fmt.setLineHeight(2, QTextBlockFormat.LineHeightTypes.FixedHeight.value)
            fmt.setTopMargin(0)
            fmt.setBottomMargin(0)
            QTextCursor(block).setBlockFormat(fmt)
        block = block.next()
