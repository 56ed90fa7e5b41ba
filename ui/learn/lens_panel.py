"""Logit lens: what each layer's residual stream would predict, read through the output."""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import QHeaderView, QLabel, QStackedWidget, QTableView, QVBoxLayout, QWidget

from core.engine.capture_types import LensView
from ui.color_scale_view import ColorScaleView
from ui.empty_state_view import EmptyStateView
from ui.learn import shading
from ui.learn.heatmap_prompt_view import CapturePromptView
from ui.learn.lens_table_model import LensTableModel
from ui.learn.pieces import label, percent
from ui.theme import mark_secondary

EXAMPLE = "The Eiffel Tower is in the city of"
_COLUMN_WIDTH = 74
_LEGEND = ("Each cell: the token the model would predict next if it stopped after this layer "
           "(the residual stream through the final norm and the output matrix). Shade: that "
           "token's probability. Bold: the same token the whole model finally predicts. Read "
           "a column downwards to see at which depth the answer appears. Hover a cell for the "
           "runners-up.")
# In place of the table before a run (it was a blank white area).
EMPTY_TEXT = ("No capture yet. Press Capture (or Try an example) to see, layer by layer, "
              "which word the model would predict if it stopped there.")


class LensPanel(QWidget):
    capture_requested = Signal(str)
    last_reply_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prompt = CapturePromptView(EXAMPLE)
        self.model = LensTableModel(self.palette())
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.horizontalHeader().setDefaultSectionSize(_COLUMN_WIDTH)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(
            self.table.fontMetrics().height() + 6)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        legend = QLabel(_LEGEND)
        legend.setWordWrap(True)
        mark_secondary(legend)  # quieter, still AA
        layout = QVBoxLayout(self)
        layout.addWidget(self.prompt)
        layout.addWidget(self.summary)
        self.empty = EmptyStateView(EMPTY_TEXT)
        self.empty.action_requested.connect(self.prompt.try_example)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.table)
        layout.addWidget(self.stack, 1)
        self.scale = ColorScaleView("Shade: probability of the cell's token",
                                    shading.confidence_color, "0%", "100%")
        layout.addWidget(self.scale)
        layout.addWidget(legend)
        self._view: LensView | None = None
        self.prompt.capture_requested.connect(self.capture_requested)
        self.prompt.last_reply_requested.connect(self.last_reply_requested)

    @property
    def view(self) -> LensView | None:
        return self._view

    def set_busy(self, message: str) -> None:
        self.prompt.set_busy(message)
        if self._view is None:
            self.empty.set_text(message, button=False)

    def set_failed(self, message: str) -> None:
        self.prompt.set_failed(message)
        if self._view is None:
            self.empty.set_text(f"{message}", button=True)

    def show_view(self, view: LensView) -> None:
        self._view = view
        self.stack.setCurrentWidget(self.table)
        self.model.set_view(view)
        n_layer, n = len(view.layers), len(view.tokens)
        self.prompt.set_done(f"{n} tokens · {n_layer} layers")
        last = view.actual[-1]
        first = first_layer_with(view, n - 1)
        where = (f"layer {view.layers[first]} is the first to pick it" if first is not None
                 else "no layer before the output picks it")
        self.summary.setText(
            f"After the last token the model predicts <b>{html.escape(label(last.piece))}</b> "
            f"({percent(last.prob)}); {where}.")
        # A short text fills the width; a long one scrolls at a readable column width.
        fits = n * _COLUMN_WIDTH <= self.table.viewport().width()
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.Stretch if fits else QHeaderView.ResizeMode.Fixed)
        # Show where it matters: the reply (or the end of the text), at the deepest layers.
        self.table.scrollTo(self.model.index(n_layer - 1, max(view.reply_start, n - 1)))
        self.table.scrollTo(self.model.index(n_layer - 1, view.reply_start))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.model.set_palette(self.palette())


def first_layer_with(view: LensView, position: int) -> int | None:
    """The shallowest row from which every deeper layer predicts the model's final token."""
    target = view.actual[position].id
    first = None
    for row in range(len(view.cells) - 1, -1, -1):
        if view.cells[row][position].id != target:
            break
        first = row
    return first
