"""Attention: which earlier tokens each token looked at, per layer and head, four ways."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.engine.capture_types import AttentionView
from ui.learn.attention_grid_view import AttentionGridView
from ui.learn.attention_lines_view import AttentionLinesView
from ui.learn.attention_passages_view import PassageBarsView
from ui.learn.heatmap_prompt_view import CapturePromptView
from ui.learn.heatmap_view import HeatmapView
from ui.theme import mark_secondary

if TYPE_CHECKING:
    import numpy as np

EXAMPLE = "The capital of France is Paris. The capital of Germany is"
MEAN = -1  # the head choice that averages every head of the layer
_LEGEND = ("Each row is a token (query), each column a token it can look at (key); a row's "
           "weights add up to 100%. Colour: √weight, so weak attention still shows. Tokens "
           "never look ahead: the upper right is empty. Many heads park attention on the first "
           "token (an attention sink) when they have nothing better to do.")


class AttentionPanel(QWidget):
    """Capture a text (or the last chat reply); pick a layer and head, or click a thumbnail."""

    capture_requested = Signal(str)
    last_reply_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prompt = CapturePromptView(EXAMPLE)
        self.layer_box = QComboBox()
        self.head_box = QComboBox()
        self.grid = AttentionGridView()
        self.heatmap = HeatmapView()
        self.lines = AttentionLinesView()
        self.passages = PassageBarsView()
        # Grouped-query attention, explained where "KV" appears (hidden when heads do not share).
        self.kv_note = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.kv_note.hide()
        self.passages_note = QLabel()
        self.passages_note.setWordWrap(True)
        self.views = QTabWidget()
        self._view: AttentionView | None = None
        self._build()
        self.prompt.capture_requested.connect(self.capture_requested)
        self.prompt.last_reply_requested.connect(self.last_reply_requested)
        self.layer_box.currentIndexChanged.connect(self._on_choice)
        self.head_box.currentIndexChanged.connect(self._on_choice)
        self.grid.head_clicked.connect(self._on_thumbnail)

    def _build(self) -> None:
        choices = QHBoxLayout()
        choices.addWidget(QLabel("Layer"))
        choices.addWidget(self.layer_box)
        choices.addWidget(QLabel("Head"))
        choices.addWidget(self.head_box)
        choices.addWidget(self.kv_note, 1)
        choices.addStretch(0)
        grid_scroll = QScrollArea()
        grid_scroll.setWidget(self.grid)
        grid_scroll.setWidgetResizable(False)
        grid_scroll.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        grid_box = QWidget()
        grid_layout = QVBoxLayout(grid_box)
        grid_layout.setContentsMargins(0, 0, 0, 0)
        grid_layout.addWidget(QLabel("All heads (click one to enlarge it)"))
        grid_layout.addWidget(grid_scroll, 1)
        lines_scroll = QScrollArea()
        lines_scroll.setWidget(self.lines)
        lines_scroll.setWidgetResizable(True)
        passages_box = QWidget()
        passages_layout = QVBoxLayout(passages_box)
        passages_layout.addWidget(self.passages_note)
        passages_layout.addWidget(self.passages)
        passages_layout.addStretch(1)
        self.views.addTab(self.heatmap, "Heatmap")
        self.views.addTab(lines_scroll, "Lines")
        self.views.addTab(passages_box, "Passages")
        self.views.setTabEnabled(2, False)
        self.views.setTabToolTip(2, "For a reply grounded in documents: attention per passage")
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(grid_box)
        split.addWidget(self.views)
        split.setStretchFactor(1, 1)
        split.setSizes([450, 650])
        legend = QLabel(_LEGEND)
        legend.setWordWrap(True)
        mark_secondary(legend)  # quieter, still AA
        layout = QVBoxLayout(self)
        layout.addWidget(self.prompt)
        layout.addLayout(choices)
        layout.addWidget(split, 1)
        layout.addWidget(legend)

    # -- what the controller calls ----------------------------------------------------------
    @property
    def view(self) -> AttentionView | None:
        return self._view

    def set_busy(self, message: str) -> None:
        self.prompt.set_busy(message)

    def set_failed(self, message: str) -> None:
        self.prompt.set_failed(message)

    def show_view(self, view: AttentionView, note: str = "") -> None:
        """A new capture: choices follow its layers and heads; the grid waits for show_grid."""
        self._view = view
        n_layer, n_head = view.attention.shape[:2]
        layer_index = min(max(self.layer_box.currentIndex(), 0), n_layer - 1)
        head = self.current_head()
        for box in (self.layer_box, self.head_box):
            box.blockSignals(True)
            box.clear()
        for layer in view.layers:
            self.layer_box.addItem(f"{layer}", layer)
        kv = kv_explanation(n_head, view.n_head_kv) if not view.heads_averaged else ""
        if not view.heads_averaged:
            for h in range(n_head):
                self.head_box.addItem(f"{h} (KV {h // max(1, n_head // view.n_head_kv)})", h)
                self.head_box.setItemData(self.head_box.count() - 1, kv,
                                          Qt.ItemDataRole.ToolTipRole)
        self.head_box.setToolTip(kv)
        self.kv_note.setText(kv)
        self.kv_note.setVisible(bool(kv))
        self.head_box.addItem("mean of heads", MEAN)
        self.layer_box.setCurrentIndex(layer_index)
        head = MEAN if view.heads_averaged or head >= n_head else head
        self.head_box.setCurrentIndex(self.head_box.findData(head))
        for box in (self.layer_box, self.head_box):
            box.blockSignals(False)
        self.grid.clear(drawing=True)
        self.passages.set_rows([])
        self.views.setTabEnabled(2, False)
        n = len(view.tokens)
        shape = "heads averaged in the engine" if view.heads_averaged else f"{n_head} heads"
        rows = (f"; rows: the reply's {view.attention.shape[2]} tokens"
                if view.query_start else "")
        self.prompt.set_done(f"{n} tokens · {n_layer} layers × {shape}{rows}. {note}".strip())
        self._on_choice()

    def show_grid(self, image: QImage) -> None:
        view = self._view
        if view is None:
            return
        names = (["mean"] if view.heads_averaged
                 else [f"h{h}" for h in range(view.attention.shape[1])])
        self.grid.set_grid(image, view.layers, names)
        self.grid.select(self.layer_box.currentIndex(), max(0, self.current_head()))

    def show_passages(self, rows: list[tuple[str, float]], note: str) -> None:
        """Shares of the answer's attention per passage ("[1] file.md", share)."""
        self.passages.set_rows(rows)
        self.passages_note.setText(note)
        self.views.setTabEnabled(2, True)

    # -- choices ----------------------------------------------------------------------------
    def current_layer_index(self) -> int:
        return self.layer_box.currentIndex()

    def current_head(self) -> int:
        data = self.head_box.currentData()
        return int(data) if data is not None else 0

    def choose(self, layer_index: int, head: int) -> None:
        """Show `head` (or MEAN) of the capture's `layer_index`-th layer."""
        self.layer_box.blockSignals(True)
        self.layer_box.setCurrentIndex(layer_index)
        self.layer_box.blockSignals(False)
        self.head_box.setCurrentIndex(self.head_box.findData(head))
        self._on_choice()

    def matrix(self) -> np.ndarray | None:
        """The [query][key] weights on show: one head, or the layer's mean over heads."""
        view = self._view
        layer_index = self.layer_box.currentIndex()
        if view is None or layer_index < 0:
            return None
        head = self.current_head()
        if head == MEAN and not view.heads_averaged:
            return view.attention[layer_index].mean(axis=0)
        return view.attention[layer_index, max(0, head)]

    def _on_thumbnail(self, layer_index: int, head: int) -> None:
        view = self._view
        self.choose(layer_index, MEAN if view is not None and view.heads_averaged else head)
        self.views.setCurrentWidget(self.heatmap)

    def _on_choice(self) -> None:
        view, matrix = self._view, self.matrix()
        if view is None or matrix is None:
            return
        pieces = [t.text for t in view.tokens]
        layer = view.layers[self.layer_box.currentIndex()]
        head = self.current_head()
        which = "mean of heads" if head == MEAN else f"head {head}"
        self.heatmap.set_matrix(matrix, pieces[view.query_start:], pieces,
                                f"<b>Layer {layer}, {which}</b>: rows look at columns",
                                row_offset=view.query_start)
        self.lines.set_weights(pieces, matrix, view.query_start)
        if self.grid.has_grid():
            self.grid.select(self.layer_box.currentIndex(), max(0, head))


def kv_explanation(n_head: int, n_head_kv: int) -> str:
    """What "KV 0" in "Head 2 (KV 0)" means: query heads that share key/value heads."""
    if n_head_kv <= 0 or n_head_kv >= n_head:
        return ""
    group = n_head // n_head_kv
    return (f"KV n: the key/value head a head reads. Grouped-query attention: {n_head} query "
            f"heads share {n_head_kv} key/value heads, {group} each, so heads with the same KV "
            "number look at the same keys and values, each with its own query.")
