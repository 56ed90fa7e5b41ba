"""The chat model's token embeddings: a word's nearest tokens, in a table and on a small map."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.learn.embedding_maps_plot import (
    HIGHLIGHT,
    LazyPlotView,
    bounds_of,
    category_color,
    text_item,
)
from ui.learn.pieces import label

if TYPE_CHECKING:
    from core.engine.token_neighbours import TokenNeighboursView

_COLUMNS = ("#", "token", "id", "cosine")


class EmbeddingMapsTokensView(QWidget):
    """Type a word, press Find; the controller answers show_neighbours."""

    neighbours_requested = Signal(str, int, bool)  # word, how many, with a leading space

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.word = QLineEdit("king")
        self.word.setPlaceholderText("A word, e.g. king, seven, Paris")
        self.leading_space = QCheckBox("as inside a sentence (leading space)")
        self.leading_space.setChecked(True)
        self.leading_space.setToolTip("BPE vocabularies keep “ king” and “king” as different "
                                      "tokens; mid-sentence words carry their space.")
        self.count = QSpinBox()
        self.count.setRange(1, 200)
        self.count.setValue(20)
        self.count.setPrefix("top ")
        self.find_button = QPushButton("Find neighbours")
        self.status = QLabel("Rows of the chat model's token embedding matrix "
                             "(token_embd.weight, dequantized from the GGUF), compared by "
                             "cosine similarity.")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.table = QTableWidget(0, len(_COLUMNS))
        self.table.setHorizontalHeaderLabels(list(_COLUMNS))
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.map = LazyPlotView("The word and its neighbours on a 2D map appear here.")
        self.result: TokenNeighboursView | None = None

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Word:"))
        controls.addWidget(self.word, 1)
        controls.addWidget(self.leading_space)
        controls.addWidget(self.count)
        controls.addWidget(self.find_button)
        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(self.table)
        body.addWidget(self.map)
        body.setStretchFactor(0, 2)
        body.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.status)
        layout.addWidget(body, 1)
        self.find_button.clicked.connect(self._on_find)
        self.word.returnPressed.connect(self._on_find)
        self.table.cellDoubleClicked.connect(self._on_row_double_clicked)
        self.table.setToolTip("Double-click a token to look up its own neighbours")

    def _on_find(self) -> None:
        if self.word.text().strip():
            self.neighbours_requested.emit(self.word.text(), self.count.value(),
                                           self.leading_space.isChecked())

    def _on_row_double_clicked(self, row: int, _column: int) -> None:
        """Walk the embedding space: a neighbour becomes the next word looked up."""
        if self.result is None or not 0 <= row < len(self.result.neighbours):
            return
        piece = self.result.neighbours[row].piece
        # A piece with its leading space is looked up as it is; a bare one without one.
        self.leading_space.setChecked(piece.startswith(" "))
        self.word.setText(piece.strip() or piece)
        self._on_find()

    def set_busy(self, busy: bool, message: str = "") -> None:
        self.find_button.setEnabled(not busy)
        if message:
            self.status.setText(html.escape(message))

    def show_neighbours(self, result: TokenNeighboursView) -> None:
        self.result = result
        own = " + ".join(f"“{html.escape(label(p))}” ({t})" for t, p in result.tokens)
        mean = " (their mean vector)" if len(result.tokens) > 1 else ""
        self.set_busy(False)
        self.status.setText(
            f"<b>{html.escape(result.model)}</b>: {result.n_vocab:,} tokens × {result.n_embd} "
            f"numbers. “{html.escape(result.word)}” is {own}{mean}; nearest by cosine:")
        self.table.setRowCount(len(result.neighbours))
        for row, n in enumerate(result.neighbours):
            cells = (str(row + 1), label(n.piece), str(n.id), f"{n.similarity:.3f}")
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column in (0, 2, 3):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        self._draw(result)

    def _draw(self, result: TokenNeighboursView) -> None:
        import pyqtgraph as pg

        plot = self.map.plot()
        plot.clear()
        plot.setAspectLocked(True)
        plot.setTitle(f"The word and its {len(result.neighbours)} neighbours, 2D map (PCA)")
        plot.setLabel("bottom", f"component 1 ({result.explained[0]:.0%} of the spread)")
        plot.setLabel("left", f"component 2 ({result.explained[1]:.0%})")
        xy = result.coords
        plot.addItem(pg.ScatterPlotItem(x=xy[1:, 0], y=xy[1:, 1], size=9,
                                        brush=pg.mkBrush(category_color(0))))
        plot.addItem(pg.ScatterPlotItem(x=xy[:1, 0], y=xy[:1, 1], size=18, symbol="star",
                                        brush=pg.mkBrush(HIGHLIGHT)))
        word = text_item(label(result.word), HIGHLIGHT, (0.5, 1.3))
        word.setPos(float(xy[0, 0]), float(xy[0, 1]))
        plot.addItem(word)
        color = self.palette().color(self.foregroundRole())
        for i, n in enumerate(result.neighbours, start=1):
            item = text_item(label(n.piece), color, (0, 0.5))
            item.setPos(float(xy[i, 0]), float(xy[i, 1]))
            plot.addItem(item)
        self.map.fit(0.12, bounds_of(xy))
