"""What changed: a held-out example before and after the adapter (token shading, the next-token
guesses at a chosen token), the drift of the hidden state per layer, and the adapter itself."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.color_scale_view import ColorScaleView
from ui.learn.finetune_anatomy_view import FinetuneAnatomyView
from ui.learn.finetune_drift_view import FinetuneDriftView
from ui.learn.finetune_effect_strip_view import (
    FULL_CHANGE_BITS,
    FinetuneEffectStripView,
    change_color,
)
from ui.learn.pieces import label

if TYPE_CHECKING:
    from core.finetune.effect import AdapterEffect
    from core.finetune.gguf_lora import AdapterAnatomy


class FinetuneEffectView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.strip = FinetuneEffectStripView()
        self.scale = ColorScaleView("Shade: surprise the adapter took away",
                                    change_color, f"−{FULL_CHANGE_BITS:g} bits (less expected)",
                                    f"+{FULL_CHANGE_BITS:g} bits (more expected)")
        self.next_title = QLabel("Click a token above to compare the two models' guesses "
                                 "for it.")
        self.next_title.setWordWrap(True)
        self.next_title.setTextFormat(Qt.TextFormat.RichText)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["without adapter", "p", "with adapter", "p"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.table.horizontalHeader()
        for column, mode in enumerate((QHeaderView.ResizeMode.Stretch,
                                       QHeaderView.ResizeMode.ResizeToContents) * 2):
            header.setSectionResizeMode(column, mode)
        self.drift = FinetuneDriftView()
        self.anatomy = FinetuneAnatomyView()
        self.effect: AdapterEffect | None = None
        self.selected: int | None = None
        self._build()
        self.strip.token_clicked.connect(self.select)

    def _build(self) -> None:
        reading = QWidget()
        column = QVBoxLayout(reading)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.summary)
        column.addWidget(self.strip, 2)
        column.addWidget(self.scale)
        column.addWidget(self.next_title)
        column.addWidget(self.table, 2)
        plots = QSplitter(Qt.Orientation.Vertical)
        plots.addWidget(self.drift)
        plots.addWidget(self.anatomy)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(reading)
        split.addWidget(plots)
        split.setSizes([520, 560])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

    def show_effect(self, effect: AdapterEffect) -> None:
        self.effect = effect
        changes = effect.surprise_change
        # The token the adapter made most expected: the first thing worth looking at.
        best = int(changes.argmax()) if len(changes) else None
        self.summary.setText(
            f"Perplexity on this held-out example: <b>{effect.perplexity_base:.2f}</b> without "
            f"the adapter → <b>{effect.perplexity_adapter:.2f}</b> with it (scale "
            f"{effect.scale:g}). Green tokens became more expected, orange ones less.")
        self.drift.show_effect(effect)
        self.select(best)

    def show_anatomy(self, anatomy: AdapterAnatomy) -> None:
        self.anatomy.show_anatomy(anatomy)

    def select(self, index: int | None) -> None:
        """Show both models' next-token guesses for predicted token `index`."""
        effect = self.effect
        if effect is None:
            return
        self.selected = index
        self.strip.show_effect(effect, index)
        if index is None:
            self.table.setRowCount(0)
            return
        piece = label(effect.pieces[index + 1])
        self.next_title.setText(
            f"At <b>{html.escape(piece)}</b>: surprise "
            f"{float(effect.surprise_base[index]):.2f} → "
            f"{float(effect.surprise_adapter[index]):.2f} bits. The five likeliest next "
            "guesses of each for this position:")
        rows = max(len(effect.top_base[index]), len(effect.top_adapter[index]))
        self.table.setRowCount(rows)
        for r in range(rows):
            for c, side in ((0, effect.top_base[index]), (2, effect.top_adapter[index])):
                text, prob = side[r] if r < len(side) else ("", 0.0)
                self.table.setItem(r, c, QTableWidgetItem(label(text)))
                number = QTableWidgetItem(f"{prob:.1%}")
                number.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                        | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c + 1, number)
        self.table.resizeRowsToContents()

    def clear(self) -> None:
        self.effect = None
        self.selected = None
        self.summary.setText("")
        self.strip.set_tokens("", [])
        self.table.setRowCount(0)
        self.drift.clear()
