"""Quantization lab: quantize a model more heavily and see what that changes on a text."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.color_scale_view import ColorScaleView
from ui.learn.quant_lab_drift_view import QuantLabDriftView
from ui.learn.quant_lab_strip_view import FULL_KL_NATS, QuantLabStripView, kl_color

if TYPE_CHECKING:
    from core.models.quant_lab_types import QuantComparison, QuantizedCopy

# The colour scale above it says what the shade is; this line adds the rest (it said the
# shade again).
_LEGEND = ("Each token's shade is the KL divergence of the two models' predictions of it. "
           "<u><b>Underlined</b></u>: a top-1 flip, where the two models' most likely next "
           "token differs. Hover a token for both guesses.")


class QuantLabPanel(QWidget):
    """Choose a type, press Quantize and compare; the controller answers with the results."""

    run_requested = Signal(str, str, str)  # source model path ("" = the chat model), type, text
    cancel_requested = Signal()
    clear_requested = Signal()
    import_requested = Signal(str)  # path of the quantized copy

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source_label = QLabel("the chat model")
        self.other_button = QPushButton("Other model…")
        self.type_box = QComboBox()
        self.run_button = QPushButton("Quantize and compare")
        self.run_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        self.progress.setMaximumWidth(220)
        self.progress.hide()  # only while a job runs: idle, it was an empty box
        self.status = QLabel("llama.cpp's own quantizer makes a smaller copy of the model; then "
                             "both read the text below.")
        self.status.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setMaximumHeight(96)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["measure", "original", "quantized"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setMinimumSectionSize(60)
        self.copy_label = QLabel()
        self.copy_label.setWordWrap(True)
        self.copy_label.setTextFormat(Qt.TextFormat.RichText)
        self.import_button = QPushButton("Add copy to model library")
        self.import_button.setEnabled(False)
        self.clear_button = QPushButton("Clear lab")
        self.clear_button.setToolTip("Delete the quantized copies the lab made")
        self.drift = QuantLabDriftView()
        self.strip = QuantLabStripView()
        self.scale = ColorScaleView("Shade: KL(original ‖ quantized) per token "
                                    "(square-root scale)", kl_color, "0 nats",
                                    f"{FULL_KL_NATS:g}+ nats")
        legend = QLabel(_LEGEND)
        legend.setWordWrap(True)
        legend.setTextFormat(Qt.TextFormat.RichText)
        self._source = ""
        self.copy: QuantizedCopy | None = None
        self.result: QuantComparison | None = None
        self._build(legend)

    def _build(self, legend: QLabel) -> None:
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Model:"))
        controls.addWidget(self.source_label, 1)
        controls.addWidget(self.other_button)
        controls.addSpacing(12)
        controls.addWidget(QLabel("Quantize to:"))
        controls.addWidget(self.type_box)
        controls.addWidget(self.run_button)
        controls.addWidget(self.cancel_button)
        state = QHBoxLayout()
        state.addWidget(self.progress)
        state.addWidget(self.status, 1)
        summary = QWidget()
        column = QVBoxLayout(summary)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.table)
        column.addWidget(self.copy_label)
        column.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        column.addLayout(buttons)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(summary)
        top.addWidget(self.drift)
        top.setStretchFactor(0, 2)
        top.setStretchFactor(1, 3)
        top.setSizes([470, 630])
        bottom = QWidget()
        strip_column = QVBoxLayout(bottom)
        strip_column.setContentsMargins(0, 0, 0, 0)
        strip_column.addWidget(self.strip, 1)
        strip_column.addWidget(self.scale)
        strip_column.addWidget(legend)
        results = QSplitter(Qt.Orientation.Vertical)
        results.addWidget(top)
        results.addWidget(bottom)
        results.setStretchFactor(0, 3)
        results.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addLayout(state)
        layout.addWidget(self.text)
        layout.addWidget(results, 1)
        self.run_button.clicked.connect(self._on_run)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.clear_button.clicked.connect(self.clear_requested)
        self.import_button.clicked.connect(self._on_import)
        self.other_button.clicked.connect(self._on_other)

    # -- set up -----------------------------------------------------------------------------
    def set_types(self, types: dict[str, float], default: str) -> None:
        self.type_box.clear()
        for name, bits in types.items():
            self.type_box.addItem(f"{name} (~{bits:g} bits/weight)", name)
        self.type_box.setCurrentIndex(max(0, self.type_box.findData(default)))

    def set_text(self, text: str) -> None:
        self.text.setPlainText(text)

    def set_source(self, path: str, label: str | None = None) -> None:
        """The model to quantize: a file the user chose ("" = the chat model)."""
        self._source = path
        self.source_label.setText(label or (Path(path).name if path else "the chat model"))

    def source(self) -> str:
        return self._source

    def quant_type(self) -> str:
        return str(self.type_box.currentData())

    # -- intents ----------------------------------------------------------------------------
    def _on_run(self) -> None:
        self.run_requested.emit(self._source, self.quant_type(), self.text.toPlainText())

    def _on_import(self) -> None:
        if self.copy is not None:
            self.import_requested.emit(self.copy.path)

    def _on_other(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model to quantize", "",
                                              "GGUF models (*.gguf);;All files (*)")
        if path:
            self.set_source(path)

    # -- answers ----------------------------------------------------------------------------
    def set_busy(self, busy: bool, message: str = "") -> None:
        self.run_button.setEnabled(not busy)
        self.clear_button.setEnabled(not busy)
        self.other_button.setEnabled(not busy)
        self.type_box.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        self.progress.setVisible(busy)
        if busy:
            self.import_button.setEnabled(False)
            self.progress.setValue(0)
        if message:
            self.status.setText(message)

    def show_progress(self, percent: int, what: str) -> None:
        self.progress.setValue(max(0, min(100, percent)))
        self.status.setText(what)

    def show_copy(self, copy: QuantizedCopy) -> None:
        self.copy = copy
        kinds = ", ".join(f"{name} × {n}" for name, n in copy.tensor_types.items())
        self.copy_label.setText(
            f"<b>{html.escape(Path(copy.path).name)}</b> ({copy.ratio:.0%} of the original, "
            f"made in {copy.elapsed_s:.1f} s) holds {kinds} tensors. <small>llama.cpp keeps "
            "norms in F32 and falls back to another type where a tensor's rows do not fit "
            f"{html.escape(copy.quant_type)}'s blocks.</small>")

    def show_comparison(self, result: QuantComparison, rows: list[tuple[str, str, str]]) -> None:
        self.result = result
        self.table.setRowCount(len(rows))
        for r, cells in enumerate(rows):
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.table.resizeRowsToContents()
        # As tall as its rows: the copy's description sits right under the figures.
        height = self.table.horizontalHeader().height() + 2 * self.table.frameWidth()
        self.table.setFixedHeight(height + sum(self.table.rowHeight(r) for r in range(len(rows))))
        self.strip.show_comparison(result)
        self.drift.show_comparison(result)
        self.set_busy(False, f"Compared on {len(result.pieces)} tokens: perplexity "
                             f"{result.perplexity_original:.2f} → "
                             f"{result.perplexity_quantized:.2f}, {result.n_flips} top-1 "
                             "flips.")
        self.progress.setValue(100)
        self.import_button.setEnabled(self.copy is not None)

    def show_cancelled(self) -> None:
        self.set_busy(False, "Cancelled. Nothing half-made was kept.")
        self.progress.setValue(0)

    def show_failed(self) -> None:
        self.set_busy(False, "The lab stopped; see the message above.")
        self.progress.setValue(0)

    def cleared(self, removed: int) -> None:
        self.copy = None
        self.import_button.setEnabled(False)
        self.copy_label.setText("")
        self.status.setText(f"Lab cleared: {removed} file(s) deleted.")
