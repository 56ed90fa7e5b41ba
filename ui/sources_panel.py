"""The Sources pane: which passages a grounded reply was given, why, and the exact prompt."""

from __future__ import annotations

import html
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QFontDatabase, QFontMetrics, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from ui.context_budget_view import PART_COLORS, PART_LABELS, ContextBudgetView

if TYPE_CHECKING:
    from core.api import Grounding, Source

_EMPTY = ("Choose document collections for this chat with the Documents button above, then "
          "ask a question. The passages the answer was given show here, with their scores "
          "and the exact prompt the model read.")
_COLUMNS = ("#", "Where", "Vector", "BM25", "Fused")
_COLUMN_TIPS = (
    "The passage's number, as the reply cites it",
    "The document, and the page or section the passage comes from",
    "Vector search: the passage's cosine similarity to the question, and its rank (#)",
    "Keyword search (BM25): the passage's score, and its rank (#)",
    "Reciprocal rank fusion of the two ranks: the passages are given in this order",
)
_WHERE = 1
_HIGHLIGHT = "#ffe08a"
# Words that would light up half of any passage: short ones, and the question's own glue.
_SHORT_WORDS = 3
_GLUE = frozenset("the and for are was were what which who whom how why when where does did "
                  "with this that these those from into about has have had can its".split())


def _score(value: float | None, rank: int | None) -> str:
    """Short, for a 300 px pane: "0.55 #1" (the full score is in the cell's tooltip)."""
    return "–" if value is None else f"{value:.2f} #{rank}"


def elide_where(text: str, metrics: QFontMetrics, width: int) -> str:
    """A passage's "file.md › Section" or "file.pdf, page 3" in `width` px: the file name
    first, then as much of the section as fits ("05-retrieval.md › Seeing…"), or the page
    ("quantization.pdf, p. 3"); a file name too long for the room loses its extension, then
    its end ("05-retrieval", "quantiz…, p. 3")."""
    if metrics.horizontalAdvance(text) <= width:
        return text
    for separator in (" › ", ", page "):
        name, found, rest = text.partition(separator)
        if found:
            break
    else:
        name, rest = text, ""
    if rest and separator == ", page ":
        page = f", p. {rest}"
        left = width - metrics.horizontalAdvance(page)
        shown = _elide_name(name, metrics, left)
        if len(shown) >= 6:
            return shown + page
    elif rest and metrics.horizontalAdvance(name) <= width:
        left = width - metrics.horizontalAdvance(name + separator)
        tail = metrics.elidedText(rest, Qt.TextElideMode.ElideRight, left) if left > 0 else ""
        return name + separator + tail if len(tail) > 1 else name
    return _elide_name(name, metrics, width)


def _elide_name(name: str, metrics: QFontMetrics, width: int) -> str:
    """A file name in `width` px: whole, else without its extension ("05-retrieval"), else
    shortened at the end ("quantiz…"): the start is what tells the guide's files apart."""
    if metrics.horizontalAdvance(name) <= width:
        return name
    stem = os.path.splitext(name)[0] or name
    return metrics.elidedText(stem, Qt.TextElideMode.ElideRight, max(width, 0))


class _WhereDelegate(QStyledItemDelegate):
    """Draws the Where cell with elide_where: Qt's own elision kept the start of the path's
    heading or cut the file name to "…r…"."""

    def initStyleOption(self, option: QStyleOptionViewItem,  # noqa: N802 (Qt override)
                        index: QModelIndex | QPersistentModelIndex) -> None:
        super().initStyleOption(option, index)
        option.text = self.shown_text(option.text, option.fontMetrics, option.rect.width(),
                                      option.widget)

    @staticmethod
    def shown_text(text: str, metrics: QFontMetrics, width: int,
                   widget: QWidget | None = None) -> str:
        """What the cell shows of `text` in a column `width` px wide (the UI audit asks)."""
        style = widget.style() if widget is not None else QApplication.style()
        margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, widget) + 1
        return elide_where(text, metrics, width - 2 * margin)


def _score_tip(value: float | None, rank: int | None, search: str) -> str:
    if value is None:
        return f"Not found by the {search}"
    return f"Score {value:.6f}, rank #{rank} in the {search}"


def query_words(query: str) -> list[str]:
    words = {w.lower() for w in re.findall(r"\w+", query)}
    return sorted((w for w in words if len(w) >= _SHORT_WORDS and w not in _GLUE),
                  key=len, reverse=True)


# A line that starts a block of its own: a heading, a list item, a quote, a table row, a fence.
_BLOCK_START = re.compile(r"\s*(#{1,6}\s|[-*+]\s|\d+[.)]\s|>|\||```|~~~)")


def reflowed(text: str) -> str:
    """`text` with the line breaks inside a paragraph made spaces, as Markdown reads them (a
    guide's lines broke mid-sentence: 'like "what' / 'does temperature do?"'). Blank lines,
    headings, list items, quotes, table rows and fenced code keep their lines."""
    lines: list[str] = []
    fenced = False
    for line in text.splitlines():
        fence = line.lstrip().startswith(("```", "~~~"))
        previous = lines[-1] if lines else ""
        joins = (not fenced and not fence and line.strip() and previous.strip()
                 and not _BLOCK_START.match(line) and not re.match(r"\s*(#|\||```|~~~)", previous))
        if joins:
            lines[-1] = previous.rstrip() + " " + line.strip()
        else:
            lines.append(line)
        if fence:
            fenced = not fenced
    return "\n".join(lines)


def highlighted_html(text: str, query: str) -> str:
    """The passage as HTML with the query's words marked, for the passage view; its lines
    reflowed into paragraphs."""
    words = query_words(query)
    escaped = html.escape(reflowed(text))
    if words:
        pattern = re.compile(r"\b(" + "|".join(re.escape(html.escape(w)) for w in words) + r")",
                             re.IGNORECASE)
        escaped = pattern.sub(
            lambda m: f'<span style="background:{_HIGHLIGHT}; color:#000">{m.group(0)}</span>',
            escaped)
    return "<p style='white-space: pre-wrap'>" + escaped + "</p>"


class SourcesPanel(QWidget):
    """Shows one Grounding. Emits `open_requested(path, page)` for "Open file"."""

    open_requested = Signal(str, object)  # path, page number or None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sourcesPanel")
        self._grounding: Grounding | None = None
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.table = QTableWidget(0, len(_COLUMNS))
        self.table.setHorizontalHeaderLabels(_COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)  # a squeezed cell wrapped to "…" over "r…"
        self.table.setItemDelegateForColumn(_WHERE, _WhereDelegate(self.table))
        for column, tip in enumerate(_COLUMN_TIPS):
            self.table.horizontalHeaderItem(column).setToolTip(tip)
        # The numbers take what they need; Where the rest, and never less than a file name.
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(_WHERE, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(24)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.passage = QTextBrowser()
        self.passage.setOpenLinks(False)
        self.passage_where = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.open_button = QPushButton("Open file")
        self.open_button.setToolTip("Open the document in its usual application")
        self.open_button.clicked.connect(self._on_open)
        self.budget = ContextBudgetView()
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.prompt = QPlainTextEdit()
        self.prompt.setReadOnly(True)
        self.prompt.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.prompt.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.tabs = QTabWidget()
        self.tabs.addTab(self._passages_page(), "Passages")
        self.tabs.addTab(self._xray_page(), "Prompt X-ray")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.detail)
        layout.addWidget(self.tabs, 1)
        self.show_grounding(None)

    def _passages_page(self) -> QWidget:
        below = QWidget()
        column = QVBoxLayout(below)
        column.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.passage_where, 1)
        row.addWidget(self.open_button)
        column.addLayout(row)
        column.addWidget(self.passage, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(below)
        split.setSizes([200, 260])
        return split

    def _xray_page(self) -> QWidget:
        page = QWidget()
        column = QVBoxLayout(page)
        column.setContentsMargins(0, 4, 0, 0)
        column.addWidget(QLabel("How the context window was spent:"))
        column.addWidget(self.budget)
        column.addWidget(self.legend)
        column.addWidget(QLabel("The exact prompt the model read (passages highlighted):"))
        column.addWidget(self.prompt, 1)
        return page

    # -- what the window calls --------------------------------------------------------------
    @property
    def grounding(self) -> Grounding | None:
        return self._grounding

    def show_grounding(self, grounding: Grounding | None, number: int | None = None) -> None:
        """Show how a reply was grounded (None: the empty state), selecting passage `number`."""
        self._grounding = grounding
        self.table.setRowCount(0)
        self.prompt.setPlainText(grounding.rendered if grounding else "")
        if grounding is None:
            self.title.setText("Sources")
            self.detail.setText(_EMPTY)
            self.budget.set_parts([], 1)
            self.legend.clear()
            self._show_passage(None)
            return
        self.title.setText(f"Sources for “{grounding.query.strip()}”")
        self.detail.setText(self._detail(grounding))
        for source in grounding.sources:
            self._add_row(source)
        parts = [(p.name, p.tokens) for p in grounding.budget]
        self.budget.set_parts(parts, grounding.n_ctx)
        self.legend.setText(self._legend(parts, grounding.n_ctx))
        self._mark_passages_in_prompt(grounding)
        self.select_source(number if number is not None else 1)

    def select_source(self, number: int) -> None:
        """Select passage `number` (as cited in the reply) and show its text."""
        if self._grounding is None:
            return
        for row, source in enumerate(self._grounding.sources):
            if source.number == number:
                self.tabs.setCurrentIndex(0)
                self.table.selectRow(row)
                self._show_passage(source)
                return
        self._show_passage(None)

    # -- rendering --------------------------------------------------------------------------
    @staticmethod
    def _detail(grounding: Grounding) -> str:
        names = ", ".join(grounding.collections) or "no collection"
        count = len(grounding.sources)
        text = f"From {names} · {count} passage{'s' if count != 1 else ''} in the prompt"
        if grounding.left_out:
            text += f" · {grounding.left_out} more found but left out to fit the context window"
        if grounding.dropped_turns:
            text += f" · {grounding.dropped_turns} earlier turns dropped to make room"
        if not count:
            text += ". Nothing in the collections matched, so the model answered on its own."
        invalid = grounding.invalid_citations
        if invalid:
            listed = ", ".join(f"[{n}]" for n in invalid)
            plural = "s" if len(invalid) > 1 else ""
            text += (f" · ⚠ {len(invalid)} citation{plural} of passages that do not exist "
                     f"({listed}): the model was given {grounding.passage_range()}")
        if grounding.backed is False:
            text += " · ⚠ not backed by your documents: no sentence of the answer matches a passage"
        return text

    @staticmethod
    def _legend(parts: list[tuple[str, int]], n_ctx: int) -> str:
        items = []
        for name, tokens in parts:
            if not tokens:
                continue
            color = PART_COLORS.get(name)
            swatch = f"<span style='color:{color}'>■</span> " if color else "□ "
            items.append(f"{swatch}{PART_LABELS.get(name, name)} {tokens:,}")
        return " &nbsp; ".join(items) + f" &nbsp; (window: {n_ctx:,} tokens)"

    def _add_row(self, source: Source) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        cells = (f"[{source.number}]", source.label,
                 _score(source.vector_score, source.vector_rank),
                 _score(source.bm25_score, source.bm25_rank),
                 f"{source.score:.4f}")
        tips = (f"Passage [{source.number}]", f"{source.label}\n{source.path}",
                _score_tip(source.vector_score, source.vector_rank, "vector search"),
                _score_tip(source.bm25_score, source.bm25_rank, "keyword search (BM25)"),
                f"Fused score {source.score:.6f}, rank #{source.rank}")
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setToolTip(tips[column])
            if column > _WHERE:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, column, item)

    def _show_passage(self, source: Source | None) -> None:
        self.open_button.setEnabled(source is not None)
        if source is None or self._grounding is None:
            self.passage_where.clear()
            self.passage.clear()
            return
        where = source.label + (f" — {source.heading}" if source.heading and source.page else "")
        self.passage_where.setText(f"[{source.number}] {where}")
        self.passage_where.setToolTip(source.path)
        self.passage.setHtml(highlighted_html(source.text, self._grounding.query))

    def _mark_passages_in_prompt(self, grounding: Grounding) -> None:
        selections = []
        fmt = QTextCharFormat()
        fmt.setBackground(QColor(PART_COLORS["passages"]).lighter(170))
        fmt.setForeground(QColor("#000000"))
        document = self.prompt.document()
        for source in grounding.sources:
            # find() stays within one paragraph, so a passage is marked line by line.
            at = document.find(f"[{source.number}] {source.label}")
            for line in filter(None, (ln.strip() for ln in source.text.splitlines())):
                found = document.find(line, at)
                if found.isNull():
                    continue
                selection = QTextEdit.ExtraSelection()
                selection.cursor = found  # type: ignore[attr-defined]
                selection.format = fmt  # type: ignore[attr-defined]
                selections.append(selection)
                at = found
        self.prompt.setExtraSelections(selections)
        self.prompt.moveCursor(QTextCursor.MoveOperation.Start)

    def _selected_source(self) -> Source | None:
        rows = self.table.selectionModel().selectedRows()
        if self._grounding is None or not rows:
            return None
        return self._grounding.sources[rows[0].row()]

    def _on_selection(self) -> None:
        source = self._selected_source()
        if source is not None:
            self._show_passage(source)

    def _on_open(self) -> None:
        source = self._selected_source()
        if source is not None:
            self.open_requested.emit(str(Path(source.path)), source.page)
