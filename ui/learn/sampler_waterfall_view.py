"""The sampler stages one after another: which candidates each keeps, and with what probability."""

from __future__ import annotations

from enum import Enum

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from core.engine.introspect_types import Candidate, SamplerStage
from ui.learn import shading
from ui.learn.pieces import label, percent

_STAGE_TIPS = {
    "raw": "The model's distribution over the whole vocabulary (temperature 1).",
    "penalties": "Repeat penalty: tokens seen in the last 64 become less likely.",
    "top-k": "Keeps the k most likely tokens.",
    "top-p": "Keeps the most likely tokens until they add up to p.",
    "min-p": "Drops tokens below min-p times the most likely one.",
    "temperature": "Divides the logits by the temperature; removes nothing.",
}


class Cell(Enum):
    KEPT = "kept"  # shown with its renormalised probability
    REMOVED = "removed"  # this stage took it out
    HIDDEN = "hidden"  # still in, but below the top candidates the engine reported
    GONE = "gone"  # an earlier stage removed it


def waterfall(candidates: list[Candidate],
              stages: list[SamplerStage]) -> list[list[tuple[Cell, float]]]:
    """For each candidate and stage: its fate there and its probability (0 unless KEPT)."""
    table = []
    for candidate in candidates:
        row: list[tuple[Cell, float]] = []
        gone = False
        for stage in stages:
            probs = {c.id: c.prob for c in stage.top}
            if gone:
                row.append((Cell.GONE, 0.0))
            elif candidate.id in probs:
                row.append((Cell.KEPT, probs[candidate.id]))
            elif len(stage.top) >= stage.kept:  # every survivor is listed: it is not one
                gone = True
                row.append((Cell.REMOVED, 0.0))
            else:
                row.append((Cell.HIDDEN, 0.0))
        table.append(row)
    return table


class SamplerWaterfallView(QTableWidget):
    """Rows: the top raw candidates; columns: llama.cpp's sampler stages in chain order."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setMinimumSectionSize(58)
        self.verticalHeader().setDefaultSectionSize(24)
        self._data: tuple[list[Candidate], list[SamplerStage]] = ([], [])

    def show_stages(self, candidates: list[Candidate], stages: list[SamplerStage]) -> None:
        self._data = (list(candidates), list(stages))
        self._render()

    def cell_state(self, row: int, column: int) -> str:
        item = self.item(row, column)
        return str(item.data(Qt.ItemDataRole.UserRole)) if item else ""

    def _render(self) -> None:
        candidates, stages = self._data
        palette = self.palette()
        self.clear()
        self.setRowCount(len(candidates))
        self.setColumnCount(len(stages))
        for column, stage in enumerate(stages):
            header = QTableWidgetItem(f"{stage.name}\n{_count(stage.kept)} kept")
            header.setToolTip(f"{_STAGE_TIPS.get(stage.name, stage.name)}<br>{stage.kept:,} "
                             "candidates left")
            self.setHorizontalHeaderItem(column, header)
        for row, candidate in enumerate(candidates):
            self.setVerticalHeaderItem(row, QTableWidgetItem(label(candidate.piece)))
        for row, cells in enumerate(waterfall(candidates, stages)):
            for column, (state, prob) in enumerate(cells):
                self.setItem(row, column, _cell_item(state, prob, stages[column], palette))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._render()


def _cell_item(state: Cell, prob: float, stage: SamplerStage,
               palette: QPalette) -> QTableWidgetItem:
    item = QTableWidgetItem()
    item.setData(Qt.ItemDataRole.UserRole, state.value)
    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
    if state is Cell.KEPT:
        back = shading.confidence_color(palette, prob)
        item.setText(percent(prob))
        item.setToolTip(f"{percent(prob)} of what {stage.name} keeps")
    elif state is Cell.REMOVED:
        back = shading.warm(palette)
        item.setText("✕ out")
        item.setToolTip(f"{stage.name} removed this candidate")
    elif state is Cell.HIDDEN:
        back = shading.base(palette)
        item.setText("…")
        item.setToolTip("Still in, but below the candidates listed for this stage")
    else:
        back = shading.base(palette)
        item.setToolTip("Removed by an earlier stage")
    item.setBackground(back)
    item.setForeground(shading.readable_on(back) if state is not Cell.GONE
                       else shading.muted(palette))
    return item


def _count(n: int) -> str:
    """49152 -> '49k': stage headers stay narrow; the exact count is in the tooltip."""
    return f"{n / 1000:.0f}k" if n >= 10_000 else f"{n:,}"
