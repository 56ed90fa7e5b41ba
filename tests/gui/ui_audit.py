"""Checks a person would make looking at a window, done by code: text cut off by its widget,
text below WCAG AA contrast against what is behind it, widgets outside the window."""

from __future__ import annotations

import re

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QColor, QPalette, QTextDocument
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QCheckBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QRadioButton,
    QStyle,
    QStyleOptionComboBox,
    QTableView,
    QTextEdit,
    QToolButton,
    QWidget,
)

from ui.theme import AA, contrast

_INLINE_COLOR = re.compile(r"<(?:span|font|div|p|b|i|sub|sup)\b[^>]*?"
                           r"(?:style=\"([^\"]*)\"|style='([^']*)'|color=['\"]?(#[0-9a-fA-F]{6}))",
                           re.IGNORECASE)
_CSS_COLOR = re.compile(r"(?<![-\w])color\s*:\s*(#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3})\b", re.I)


def name_of(widget: QWidget) -> str:
    text = _text(widget)
    shown = f" {text[:40]!r}" if text else ""
    parent = widget.parentWidget()
    where = type(parent).__name__ if parent is not None else "-"
    return f"{type(widget).__name__}{shown} in {where}"


def _text(widget: QWidget) -> str:
    if isinstance(widget, (QLabel, QAbstractButton)):
        return widget.text()
    if isinstance(widget, QComboBox):
        return widget.currentText()
    return ""


def _plain(label: QLabel) -> str:
    text = label.text()
    if label.textFormat().name == "PlainText" or not re.search(r"<[a-zA-Z/]", text):
        return text
    document = QTextDocument()
    document.setHtml(text)
    return document.toPlainText()


def _shown(widget: QWidget, window: QWidget) -> bool:
    return widget.isVisibleTo(window) and not widget.visibleRegion().isEmpty()


def _in_scroll_area(widget: QWidget) -> bool:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            return True
        parent = parent.parentWidget()
    return False


def background(widget: QWidget) -> QColor:
    """The colour behind `widget`'s text: its own, or that of the first ancestor that paints
    one (a filled widget, a scroll area's viewport, the window)."""
    if isinstance(widget, (QLineEdit, QTextEdit, QPlainTextEdit)):
        return widget.palette().color(QPalette.ColorRole.Base)
    if isinstance(widget, QAbstractButton) and not isinstance(widget, (QCheckBox, QRadioButton)):
        return widget.palette().color(QPalette.ColorRole.Button)
    current: QWidget | None = widget
    while current is not None:
        parent = current.parentWidget()
        is_viewport = isinstance(parent, QAbstractScrollArea) and parent.viewport() is current
        if current.autoFillBackground() or current.isWindow() or is_viewport:
            return current.palette().color(current.backgroundRole())
        current = parent
    return widget.palette().color(QPalette.ColorRole.Window)


def foreground(widget: QWidget) -> QColor:
    group = QPalette.ColorGroup.Active if widget.isEnabled() else QPalette.ColorGroup.Disabled
    return widget.palette().color(group, widget.foregroundRole())


def clipped(widget: QWidget) -> str | None:
    if isinstance(widget, QLabel):
        if widget.property("elided") or not widget.text():
            return None
        if widget.wordWrap():
            return _cut_short(widget)
        if widget.pixmap() is not None and not widget.pixmap().isNull():
            return None
        lines = _plain(widget).splitlines() or [""]
        needed = max(widget.fontMetrics().horizontalAdvance(line) for line in lines)
        room = widget.contentsRect().width() - 2 * widget.margin() - max(widget.indent(), 0)
    elif isinstance(widget, QAbstractButton):
        # A button that shortens its own text (the Documents button) is judged by what it draws.
        shown = getattr(widget, "shown_text", widget.text)()
        text = shown.replace("&&", "\0").replace("&", "").replace("\0", "&")
        icon_only = isinstance(widget, QToolButton) \
            and widget.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonIconOnly
        if not text or icon_only:
            return None
        needed = widget.fontMetrics().horizontalAdvance(text)
        if not widget.icon().isNull():
            needed += widget.iconSize().width() + 4
        room = widget.contentsRect().width()
        if isinstance(widget, QToolButton) and widget.menu() is not None:
            # Fusion draws the menu arrow over the text's right end (the Documents button).
            room -= widget.style().pixelMetric(QStyle.PixelMetric.PM_MenuButtonIndicator, None,
                                               widget)
        if isinstance(widget, (QCheckBox, QRadioButton)):
            style = widget.style()
            room -= (style.pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth, None, widget)
                     + style.pixelMetric(QStyle.PixelMetric.PM_CheckBoxLabelSpacing, None,
                                         widget))
    elif isinstance(widget, QComboBox) and not widget.isEditable():
        # The text is drawn in the field left of the arrow; a combo box that shortens its own
        # text (the model picker) is judged by what it draws.
        text = getattr(widget, "shown_text", widget.currentText)()
        if not text:
            return None
        option = QStyleOptionComboBox()
        widget.initStyleOption(option)
        field = widget.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                              QStyle.SubControl.SC_ComboBoxEditField, widget)
        needed = widget.fontMetrics().horizontalAdvance(text)
        if not option.currentIcon.isNull():
            needed += option.iconSize.width() + 4
        room = field.width() - 2
    else:
        return None
    if needed > room + 1:
        return f"clipped: {name_of(widget)} needs {needed} px, has {room}"
    return None


MIN_CELL_CHARS = 6  # a table cell shortened to fewer characters than this says nothing
_ROWS_LOOKED_AT = 50


def elided_cells(view: QWidget) -> list[str]:
    """Table cells whose text the column's width shortens to under MIN_CELL_CHARS characters
    (the Sources pane's Where column read "…r…"). A column's delegate that shortens its own
    text (`shown_text(text, metrics, width, view)`) is judged by what it draws."""
    if not isinstance(view, QTableView) or view.model() is None:
        return []
    model = view.model()
    metrics = view.fontMetrics()
    margin = view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 1
    problems = []
    for column in range(model.columnCount()):
        if view.isColumnHidden(column):
            continue
        width = view.columnWidth(column)
        delegate = view.itemDelegateForColumn(column)
        for row in range(min(model.rowCount(), _ROWS_LOOKED_AT)):
            text = model.index(row, column).data(Qt.ItemDataRole.DisplayRole)
            if not isinstance(text, str) or not text:
                continue
            if hasattr(delegate, "shown_text"):
                shown = delegate.shown_text(text, metrics, width, view)
            else:
                shown = metrics.elidedText(text, view.textElideMode(), width - 2 * margin)
            kept = len(shown.replace("…", ""))
            if shown != text and kept < min(MIN_CELL_CHARS, len(text)):
                header = model.headerData(column, Qt.Orientation.Horizontal)
                problems.append(f"elided: {name_of(view)} column {header!r} shows {shown!r} of "
                                f"{text!r} ({width} px)")
                break
    return problems


def _cut_short(label: QLabel) -> str | None:
    """A word-wrapped label wraps to any width, so its text is cut off at the bottom instead:
    its lines at its width need more height than it was given (the demo model's hint lost
    its fourth line so)."""
    needed = label.heightForWidth(label.width())
    if needed > label.height() + 1:
        return f"clipped: {name_of(label)} needs {needed} px of height, has {label.height()}"
    return None


def low_contrast(widget: QWidget) -> list[str]:
    if not isinstance(widget, (QLabel, QAbstractButton, QLineEdit, QTextEdit, QPlainTextEdit)):
        return []
    problems = []
    back = background(widget)
    parent = widget.parentWidget()
    if isinstance(widget, QLabel) and not widget.isEnabled() and parent is not None \
            and parent.isEnabled():
        problems.append(f"disabled for looks (reads as unavailable): {name_of(widget)}")
    if not widget.isEnabled():
        return problems  # WCAG exempts inactive controls
    has_text = bool(_text(widget)) or isinstance(widget, (QLineEdit, QTextEdit, QPlainTextEdit))
    fore = foreground(widget)
    if has_text and contrast(fore, back) < AA:
        problems.append(f"contrast {contrast(fore, back):.2f}:1 ({fore.name()} on "
                        f"{back.name()}): {name_of(widget)}")
    if isinstance(widget, QLabel):
        for match in _INLINE_COLOR.finditer(widget.text()):
            style = match.group(1) or match.group(2) or ""
            if "background" in style:
                continue  # a chip: its text colour is chosen for its own background
            colors = _CSS_COLOR.findall(style) + ([match.group(3)] if match.group(3) else [])
            rest = widget.text()[match.end():]
            content = rest.split(">", 1)[-1].split("<", 1)[0].strip()
            # A swatch (■, ●) is a graphic, not text: WCAG asks 3:1 of it.
            needed = 3.0 if len(content) == 1 and not content.isalnum() else AA
            for color in colors:
                ratio = contrast(QColor(color), back)
                if ratio < needed:
                    problems.append(f"inline colour {color} on {back.name()} is "
                                    f"{ratio:.2f}:1: {name_of(widget)}")
    placeholder = getattr(widget, "placeholderText", None)
    if callable(placeholder) and placeholder():
        color = widget.palette().color(QPalette.ColorRole.PlaceholderText)
        if contrast(color, back) < AA:
            problems.append(f"placeholder contrast {contrast(color, back):.2f}:1: "
                            f"{name_of(widget)}")
    return problems


def outside(widget: QWidget, window: QWidget) -> str | None:
    if _in_scroll_area(widget):
        return None  # scrolled content may lie beyond the viewport
    top_left = widget.mapTo(window, QPoint(0, 0))
    rect = QRect(top_left, widget.size())
    if not window.rect().contains(rect):
        return f"outside the window: {name_of(widget)} at {rect.getRect()} in " \
               f"{window.rect().getRect()}"
    return None


def audit(window: QWidget) -> list[str]:
    """Every problem in what `window` shows now, one line each."""
    problems: list[str] = []
    for widget in window.findChildren(QWidget):
        if not _shown(widget, window):
            continue
        for problem in (clipped(widget), outside(widget, window), *low_contrast(widget),
                        *elided_cells(widget)):
            if problem:
                problems.append(problem)
    return sorted(set(problems))
