"""A read-only text of token chips: one HTML document, tooltips and clicks per token."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QUrl, Signal
from PySide6.QtGui import QHelpEvent, QTextOption
from PySide6.QtWidgets import QTextBrowser, QToolTip, QWidget

_SCHEME = "tok"


class TokenTextView(QTextBrowser):
    """Renders thousands of tokens as spans in one document (not one widget per token)."""

    token_clicked = Signal(int)  # index of the token in the last set_tokens call

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.document().setDefaultStyleSheet("a { text-decoration: none; }")
        self.anchorClicked.connect(self._on_anchor_clicked)
        self._tooltips: list[str] = []

    @staticmethod
    def anchor(index: int, inner_html: str) -> str:
        """Wrap one token's HTML so hovering and clicking find its index."""
        # The zero-width space after each chip lets long runs of chips wrap between tokens.
        return f'<a href="{_SCHEME}:{index}">{inner_html}</a>\u200b'

    def set_tokens(self, html: str, tooltips: list[str]) -> None:
        self._tooltips = tooltips
        self.setHtml(html)

    @property
    def token_count(self) -> int:
        return len(self._tooltips)

    def tooltip_at(self, index: int) -> str:
        return self._tooltips[index]

    def index_of(self, href: str) -> int | None:
        scheme, _, number = href.partition(":")
        if scheme != _SCHEME or not number.isdigit():
            return None
        index = int(number)
        return index if index < len(self._tooltips) else None

    def viewportEvent(self, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            index = self.index_of(self.anchorAt(event.pos()))
            if index is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(event.globalPos(), self._tooltips[index], self.viewport())
            return True
        return super().viewportEvent(event)

    def _on_anchor_clicked(self, url: QUrl) -> None:
        index = self.index_of(url.toString())
        if index is not None:
            self.token_clicked.emit(index)
