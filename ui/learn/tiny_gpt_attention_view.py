"""The tiny model's attention on a fixed probe sentence, one layer and head at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget

from ui.theme import mark_secondary

if TYPE_CHECKING:
    import numpy as np


class TinyGptAttentionView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.head_box = QComboBox()
        self.head_box.setAccessibleName("Layer and head")
        self.head_box.currentIndexChanged.connect(self._draw)
        top = QHBoxLayout()
        top.addWidget(QLabel("Attention of"))
        top.addWidget(self.head_box, 1)
        # A widget, not a bare QStackedLayout: a layout with no parent yet shows its first
        # page as a window of its own, which took the focus from the main window.
        self._stack = QStackedWidget()
        self.hint = QLabel("Attention maps of a probe sentence appear here as they form: "
                           "each row is a token, each column a token it can look back at.")
        self.hint.setWordWrap(True)
        mark_secondary(self.hint)
        self._stack.addWidget(self.hint)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self._stack, 1)
        self.plot: Any = None
        self.maps: np.ndarray | None = None
        self.tokens: list[str] = []
        self.step = 0

    def reset(self) -> None:
        self.maps = None
        self.head_box.clear()
        self._stack.setCurrentWidget(self.hint)

    def show_maps(self, step: int, tokens: list[str], maps: np.ndarray) -> None:
        """`maps`: (layers, heads, tokens, tokens) attention probabilities."""
        self.step, self.tokens, self.maps = step, tokens, maps
        layers, heads = maps.shape[:2]
        if self.head_box.count() != layers * heads:
            self.head_box.blockSignals(True)
            self.head_box.clear()
            for layer in range(layers):
                for head in range(heads):
                    self.head_box.addItem(f"layer {layer + 1}, head {head + 1}")
            self.head_box.blockSignals(False)
        self._draw()

    def prepare(self) -> None:
        """Make the heatmap now (it is shown with the first maps)."""
        if self.plot is None:
            from ui.learn.heatmap_plot import HeatmapPlot

            self.plot = HeatmapPlot()
            self._stack.addWidget(self.plot)
            self._stack.setCurrentWidget(self.hint)

    def _draw(self, *_: object) -> None:
        if self.maps is None or self.head_box.currentIndex() < 0:
            return
        self.prepare()
        from ui.learn.heatmap_grid import scaled

        heads = self.maps.shape[1]
        index = self.head_box.currentIndex()
        matrix = self.maps[index // heads, index % heads]
        labels = [t.replace("\n", "\\n") for t in self.tokens]
        self.plot.show_matrix(scaled(matrix), labels, labels)
        self._stack.setCurrentWidget(self.plot)
