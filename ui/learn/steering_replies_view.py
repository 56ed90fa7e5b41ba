"""Replies at several strengths side by side: each token shaded by how far its hidden state
leans along the direction (the strip under the text), the next-token shift below, and a
warning where the reply has degenerated (shown, never hidden)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QTextBrowser, QVBoxLayout, QWidget

from ui.learn.shading import base, readable_on, warm
from ui.message_render import mix
from ui.theme import mark_secondary

if TYPE_CHECKING:
    from core.engine.steering_types import SteeredReply, SteeringRun

_TOWARD = QColor("#20c997")  # teal: toward the positive side
_AWAY = QColor("#ff6a1a")  # orange: toward the negative side


class SteeringRepliesView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(0, 0, 0, 0)
        self.hint = QLabel("Replies at several strengths appear here, side by side. Teal "
                           "words lean toward the positive side, orange toward the negative.")
        self.hint.setWordWrap(True)
        mark_secondary(self.hint)
        self._row.addWidget(self.hint)
        self.columns: list[QFrame] = []
        self.texts: list[QTextBrowser] = []

    def clear(self) -> None:
        for column in self.columns:
            self._row.removeWidget(column)
            column.deleteLater()
        self.columns, self.texts = [], []
        self.hint.show()

    def show_run(self, run: SteeringRun) -> None:
        self.clear()
        self.hint.hide()
        baseline = next((r for r in run.replies if r.strength == 0.0), run.replies[0])
        values = list(baseline.projection) or list(run.prompt_projection)
        centre = sum(values) / len(values) if values else 0.0
        spread = max((abs(x - centre) for r in run.replies for x in r.projection),
                     default=1.0) or 1.0
        for reply in run.replies:
            self._add_column(reply, centre, spread)

    def _add_column(self, reply: SteeredReply, centre: float, spread: float) -> None:
        column = QFrame()
        column.setFrameShape(QFrame.Shape.StyledPanel)
        box = QVBoxLayout(column)
        title = QLabel(f"<b>strength {reply.strength:+.1f}</b>")
        box.addWidget(title)
        if reply.degenerate:
            flag = QLabel(f"⚠ degenerate: {html.escape(reply.degenerate)}")
            flag.setWordWrap(True)
            back = warm(self.palette(), 0.35)
            flag.setStyleSheet(f"background: {back.name()}; color: "
                               f"{readable_on(back).name()}; padding: 2px;")
            box.addWidget(flag)
        text = QTextBrowser()
        text.setAccessibleName(f"Reply at strength {reply.strength:+.1f}")
        text.setHtml(self._shaded(reply, centre, spread))
        box.addWidget(text, 1)
        shifts = "<br>".join(
            f"{html.escape(repr(t.piece))} {t.prob:.0%} "
            f"<span>({t.shift * 100:+.0f} pts)</span>" for t in reply.top[:5])
        nxt = QLabel(f"<b>first token</b> (vs strength 0)<br>{shifts}")
        nxt.setWordWrap(True)
        box.addWidget(nxt)
        self._row.addWidget(column, 1)
        self.columns.append(column)
        self.texts.append(text)

    def _shaded(self, reply: SteeredReply, centre: float, spread: float) -> str:
        back = base(self.palette())
        parts = []
        for piece, value in zip(reply.tokens, reply.projection, strict=False):
            lean = max(-1.0, min(1.0, (value - centre) / spread))
            colour = mix(back, _TOWARD if lean >= 0 else _AWAY, 0.7 * abs(lean))
            parts.append(f'<span style="background:{colour.name()};color:'
                         f'{readable_on(colour).name()}">{html.escape(piece)}</span>')
        return "".join(parts).replace("\n", "<br>") or "<i>(no reply)</i>"
