"""Anatomy: what the GGUF file holds: metadata, the architecture, every tensor, its weights."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.gguf.anatomy_types import AnatomyView, ArchitectureSummary, WeightHistogram
from ui.learn.anatomy_histogram_view import WeightHistogramView
from ui.learn.anatomy_tensor_model import TensorTableModel, filtered, human_bytes

_LONG_TEXT = 160
_LONG_LIST = 8


def shown_value(value: Any) -> str:
    """A metadata value on one line: long lists and texts cut (the tooltip has more)."""
    if isinstance(value, list | tuple):
        head = ", ".join(str(v) for v in value[:_LONG_LIST])
        return f"[{head}, … {len(value):,} items]" if len(value) > _LONG_LIST else f"[{head}]"
    text = str(value).replace("\n", "↵")
    return text if len(text) <= _LONG_TEXT else text[:_LONG_TEXT] + f"… ({len(text):,} chars)"


def summary_rows(s: ArchitectureSummary) -> list[tuple[str, str]]:
    def known(value: object, unit: str = "") -> str:
        return "unknown" if value is None else f"{value:,}{unit}" if isinstance(
            value, int) else f"{value}{unit}"

    rope = "none recorded" if s.rope_freq_base is None else f"base {s.rope_freq_base:g}"
    if s.rope_dimension_count:
        rope += f", {s.rope_dimension_count} of {known(s.head_dim)} dims rotated"
    if s.rope_scaling:
        rope += f", {s.rope_scaling} scaling ×{s.rope_scaling_factor or 1:g}"
    return [("architecture", s.architecture), ("layers", known(s.n_layer)),
            ("attention heads", known(s.n_head)),
            ("key/value heads", known(s.n_head_kv) + (
                f" (each shared by {s.n_head // s.n_head_kv} query heads)"
                if s.n_head and s.n_head_kv and s.n_head != s.n_head_kv else "")),
            ("embedding size", known(s.n_embd)), ("head size", known(s.head_dim)),
            ("feed-forward size", known(s.n_ff)),
            ("context length", known(s.context_length, " tokens")),
            ("vocabulary", known(s.vocab_size, " tokens")), ("RoPE", rope),
            ("norm epsilon", "unknown" if s.norm_eps is None else f"{s.norm_eps:g}"),
            ("output matrix", "tied to the token embeddings" if s.tied_embeddings
             else "its own (output.weight)")]


class AnatomyPanel(QWidget):
    refresh_requested = Signal()
    tensor_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = QLabel("Load a model to see what it is made of.")
        self.status.setWordWrap(True)
        self.refresh_button = QPushButton("Read again")
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.metadata = QTableWidget(0, 2)
        self.metadata.setHorizontalHeaderLabels(["Key", "Value"])
        self.metadata.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.metadata.horizontalHeader().setStretchLastSection(True)
        self.metadata.verticalHeader().hide()
        self.metadata.setWordWrap(False)
        row_height = self.fontMetrics().height() + 6
        self.metadata.verticalHeader().setDefaultSectionSize(row_height)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter tensors: blk.3, attn_q, Q4_1…")
        self.filter.setClearButtonEnabled(True)
        self.tensors = TensorTableModel()
        self.proxy = filtered(self.tensors)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # file order until a click
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(row_height)
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.histogram = WeightHistogramView()
        self._view: AnatomyView | None = None
        self._build()
        self.refresh_button.clicked.connect(self.refresh_requested)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.table.clicked.connect(self._on_row)

    def _build(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.refresh_button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.summary)
        left_layout.addWidget(QLabel("<b>GGUF metadata</b>"))
        left_layout.addWidget(self.metadata, 1)
        tensors = QWidget()
        tensors_layout = QVBoxLayout(tensors)
        tensors_layout.setContentsMargins(0, 0, 0, 0)
        tensors_layout.addWidget(self.filter)
        tensors_layout.addWidget(self.table, 1)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(tensors)
        right.addWidget(self.histogram)
        right.setSizes([380, 260])
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([420, 680])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)

    @property
    def view(self) -> AnatomyView | None:
        return self._view

    def set_busy(self, message: str) -> None:
        self.status.setText(message)

    def set_failed(self, message: str) -> None:
        self.status.setText(f"<span style='color:#d9480f;'>{html.escape(message)}</span>")

    def show_view(self, view: AnatomyView) -> None:
        self._view = view
        name = view.path.replace("\\", "/").rsplit("/", 1)[-1]
        self.status.setText(f"<b>{html.escape(name)}</b> · {human_bytes(view.file_size)} · "
                            f"{view.parameter_count:,} parameters in {len(view.tensors)} "
                            "tensors")
        cells = "".join(f"<tr><td>{html.escape(k)}</td><td><b>{html.escape(v)}</b></td></tr>"
                        for k, v in summary_rows(view.summary))
        self.summary.setText(f"<table cellspacing='0' cellpadding='2'>{cells}</table>")
        self.metadata.setRowCount(len(view.metadata))
        for row, (key, value) in enumerate(view.metadata.items()):
            shown = QTableWidgetItem(shown_value(value))
            shown.setToolTip(html.escape(str(value)[:2000]))
            self.metadata.setItem(row, 0, QTableWidgetItem(key))
            self.metadata.setItem(row, 1, shown)
        self.metadata.resizeColumnToContents(0)
        self.tensors.set_tensors(view.tensors)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)

    def tensor_row_count(self) -> int:
        """Rows on show (after the filter)."""
        return self.proxy.rowCount()

    def click_tensor(self, shown_row: int) -> str:
        """Choose the tensor on `shown_row` as a click would; returns its name."""
        index = self.proxy.index(shown_row, 0)
        self.table.setCurrentIndex(index)
        self._on_row(index)
        return self.tensors.tensor(self.proxy.mapToSource(index).row()).name

    def show_histogram(self, histogram: WeightHistogram) -> None:
        self.histogram.show_histogram(histogram)

    def _on_row(self, index: QModelIndex) -> None:
        if not index.isValid():
            return
        name = self.tensors.tensor(self.proxy.mapToSource(index).row()).name
        self.histogram.set_loading(html.escape(name))
        self.tensor_chosen.emit(name)
