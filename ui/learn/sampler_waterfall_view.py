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

from core.api import SamplingSettings
from core.engine.introspect_types import Candidate, SamplerStage
from ui.learn import shading
from ui.learn.pieces import label, percent

_STAGE_TIPS = {
    "raw": "The model's distribution over the whole vocabulary (temperature 1).",
    "penalties": "Repeat penalty: tokens already in the text (the last 64) become less "
                 "likely; ↓ marks them.",
    "top-k": "Keeps the k most likely tokens: a token ranked beyond k is out.",
    "top-p": "Keeps the most likely tokens until they add up to p: the rest, outside that "
             "cumulative mass, are out.",
    "min-p": "Drops tokens below the floor: min-p times the most likely one's probability.",
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
            # By id and text: a remote server's candidates have no ids (all unknown).
            probs = {(c.id, c.piece): c.prob for c in stage.top}
            if gone:
                row.append((Cell.GONE, 0.0))
            elif (candidate.id, candidate.piece) in probs:
                row.append((Cell.KEPT, probs[candidate.id, candidate.piece]))
            elif len(stage.top) >= stage.kept:  # every survivor is listed: it is not one
                gone = True
                row.append((Cell.REMOVED, 0.0))
            else:
                row.append((Cell.HIDDEN, 0.0))
        table.append(row)
    return table


PENALTY_LAST_N = 64  # llama.cpp's repeat-penalty window, as the engine sets it
_LOWERED = 0.995  # a token whose share falls below this fraction of it was penalised


def penalised(candidate_id: int, stages: list[SamplerStage],
              column: int) -> tuple[float, float | None] | None:
    """(before, after) when the penalties stage at `column` lowered this token: it is already
    in the text. Unseen tokens only gain from the renormalisation, so a fall means a penalty;
    after is None when the token fell below every token listed for the stage."""
    if stages[column].name != "penalties" or column == 0:
        return None
    before = {c.id: c.prob for c in stages[column - 1].top}.get(candidate_id)
    listed = stages[column].top
    after = {c.id: c.prob for c in listed}.get(candidate_id)
    if before is None:
        return None
    if after is None:  # out of the listed tokens: penalised if it was above the lowest one
        return (before, None) if listed and before > min(c.prob for c in listed) else None
    return (before, after) if after < before * _LOWERED else None


def removal_reason(candidate: Candidate, stages: list[SamplerStage], column: int,
                   settings: SamplingSettings | None) -> str:
    """Why the stage at `column` took `candidate` out, from what the stage before it kept."""
    stage = stages[column]
    previous = stages[column - 1].top if column > 0 else []
    ids = [c.id for c in previous]
    rank = ids.index(candidate.id) + 1 if candidate.id in ids else None
    prob = previous[rank - 1].prob if rank else None
    s = settings
    if stage.name == "top-k":
        k = s.top_k if s else stage.kept
        where = f"Its rank, {rank}, is" if rank else "It ranks"
        return f"{where} beyond k = {k}: top-k keeps only the {k} likeliest tokens."
    if stage.name == "top-p" and rank:
        mass = sum(c.prob for c in previous[:rank - 1])
        p = f" ≥ p = {s.top_p:g}" if s else ""
        return (f"Outside the cumulative mass: the {rank - 1} likelier tokens already add up "
                f"to {percent(mass)}{p}, so top-p stops before it.")
    if stage.name == "min-p" and prob is not None and previous:
        top = previous[0].prob
        if s:
            return (f"Below the floor: {percent(prob)} is less than min-p {s.min_p:g} × the "
                    f"top token's {percent(top)} = {percent(s.min_p * top)}.")
        return f"Below the floor: {percent(prob)} is too far under the top token's {percent(top)}."
    return f"{stage.name} removed this candidate."


def why_lines(candidates: list[Candidate], stages: list[SamplerStage],
              settings: SamplingSettings | None) -> list[str]:
    """One short line per stage that changed a listed token: what it did and why."""
    table = waterfall(candidates, stages)
    lines = []
    for column, stage in enumerate(stages):
        lowered = [c for c in candidates if penalised(c.id, stages, column)]
        removed = [c for c, row in zip(candidates, table, strict=True)
                   if row[column][0] is Cell.REMOVED]
        if lowered:
            names = ", ".join(label(c.piece) for c in lowered[:3])
            factor = f", score ÷ {settings.repeat_penalty:g}" if settings else ""
            lines.append(f"penalties lowered {names}: already in the text (the last "
                         f"{PENALTY_LAST_N} tokens){factor}")
        if removed:
            names = ", ".join(label(c.piece) for c in removed[:3])
            more = f" and {len(removed) - 3} more" if len(removed) > 3 else ""
            why = {"top-k": "rank beyond k" + (f" = {settings.top_k}" if settings else ""),
                   "top-p": "outside the cumulative mass" + (
                       f" p = {settings.top_p:g}" if settings else ""),
                   "min-p": "below the floor" + (
                       f" (min-p {settings.min_p:g} × top)" if settings else "")
                   }.get(stage.name, "removed")
            lines.append(f"{stage.name} removed {names}{more}: {why}")
    return lines


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
        self._settings: SamplingSettings | None = None

    def show_stages(self, candidates: list[Candidate], stages: list[SamplerStage],
                    settings: SamplingSettings | None = None) -> None:
        """`settings`: the sampler's, so each change can say why (k, p, min-p, penalty)."""
        self._data = (list(candidates), list(stages))
        self._settings = settings
        self._render()

    def why(self) -> list[str]:
        """Short lines: what each stage changed among the listed tokens, and why."""
        return why_lines(*self._data, self._settings)

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
                item = _cell_item(state, prob, stages[column], palette)
                candidate = candidates[row]
                if state is Cell.REMOVED:
                    item.setToolTip(removal_reason(candidate, stages, column, self._settings))
                elif change := penalised(candidate.id, stages, column):
                    factor = (f" (its score divided by {self._settings.repeat_penalty:g})"
                              if self._settings else "")
                    before, after = change
                    floor = min(c.prob for c in stages[column].top)
                    now = percent(after) if after is not None else f"under {percent(floor)}"
                    item.setText(f"↓ {percent(after) if after is not None else '…'}")
                    item.setToolTip(f"Already in the text: the repeat penalty lowers a token "
                                    f"seen in the last {PENALTY_LAST_N}{factor}, from "
                                    f"{percent(before)} to {now}.")
                self.setItem(row, column, item)

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
