"""Fine-tune lab: choose examples, see what training will learn of them, train a LoRA adapter
with a live loss curve, then see what it changed and use it in the chat.

Three pages, in the order a learner goes: Data, Train, What changed. The progress bar and the
status line above them stay in view on every page. The controller answers every intent.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QFont
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ui.learn import shading
from ui.learn.finetune_effect_view import FinetuneEffectView
from ui.learn.finetune_loss_view import FinetuneLossView
from ui.learn.finetune_preview_view import FinetunePreviewView
from ui.learn.finetune_settings_view import FinetuneSettingsView

if TYPE_CHECKING:
    from core.finetune.effect import AdapterEffect
    from core.finetune.encode import Preview
    from core.finetune.gguf_lora import AdapterAnatomy
    from core.finetune.lab import LossCurves

_INTRO = ("Teach the chat model a style from your own examples: LoRA trains small matrices "
          "beside its weights while the model itself stays as it is.")
_HELD_OUT = "held out"


class FinetunePanel(QWidget):
    open_file_requested = Signal(str)
    sample_requested = Signal()
    settings_changed = Signal()
    example_selected = Signal(int)  # index in the dataset
    train_requested = Signal(str, dict)  # run name, settings values
    cancel_requested = Signal()
    resume_requested = Signal(str)  # run name
    run_selected = Signal(str)  # a previous run, to open
    held_out_selected = Signal(int)  # index among the run's held-out examples
    use_in_chat_requested = Signal(float)  # scale
    scale_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(False)
        self.progress.setMaximumWidth(220)
        self.progress.hide()
        self.status = QLabel(_INTRO)
        self.status.setWordWrap(True)
        self.pages = QTabWidget()
        self.pages.setDocumentMode(True)
        # Data page
        self.open_button = QPushButton("Open data file…")
        self.open_button.setToolTip("A .jsonl file ({\"prompt\", \"response\"} or "
                                    "{\"messages\": [...]} a line) or a .csv file with prompt "
                                    "and response columns")
        self.sample_button = QPushButton("Try the sample data")
        self.sample_button.setToolTip("60 questions answered by a cheerful robot: every reply "
                                      "opens with “Beep boop!”")
        self.source_label = QLabel("No data yet.")
        self.source_label.setWordWrap(True)
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setTextFormat(Qt.TextFormat.RichText)
        self.problems.hide()
        self.examples = QListWidget()
        self.preview = FinetunePreviewView()
        # Train page
        self.settings = FinetuneSettingsView()
        self.estimate = QLabel("Choose data to see what a run will cost.")
        self.estimate.setWordWrap(True)
        self.run_name = QLineEdit()
        self.run_name.setPlaceholderText("name of the adapter")
        self.train_button = QPushButton("Train")
        self.train_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setEnabled(False)
        self.resume_button.setToolTip("Continue the selected run from its latest checkpoint")
        self.loss = FinetuneLossView()
        self.runs = QListWidget()
        self.runs.setToolTip("Every adapter trained here; select one to see its curve, resume "
                             "it or see what it changed")
        # What changed page
        self.held_out = QComboBox()
        self.held_out.setMinimumContentsLength(30)
        self.adapter_label = QLabel("Train an adapter, or open a finished run, to see what it "
                                    "changed.")
        self.adapter_label.setWordWrap(True)
        self.use_button = QPushButton("Use in chat")
        self.use_button.setEnabled(False)
        self.use_button.setToolTip("Load the chat model with this adapter applied")
        self.scale = QDoubleSpinBox()
        self.scale.setRange(0.0, 2.0)
        self.scale.setSingleStep(0.1)
        self.scale.setValue(1.0)
        self.scale.setToolTip("How strongly the adapter is applied: 0 is the base model, "
                              "1 as trained, 2 twice as strong")
        self.effect = FinetuneEffectView()
        self.selected_run = ""
        self.held_out_rows: set[int] = set()
        self._build()

    # -- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        state = QHBoxLayout()
        state.addWidget(self.progress)
        state.addWidget(self.status, 1)
        self.pages.addTab(self._data_page(), "1 · Data")
        self.pages.addTab(self._train_page(), "2 · Train")
        self.pages.addTab(self._effect_page(), "3 · What changed")
        layout = QVBoxLayout(self)
        layout.addLayout(state)
        layout.addWidget(self.pages, 1)
        self.open_button.clicked.connect(self._on_open)
        self.sample_button.clicked.connect(self.sample_requested)
        self.examples.currentRowChanged.connect(self._on_example)
        self.settings.changed.connect(self.settings_changed)
        self.train_button.clicked.connect(self._on_train)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.resume_button.clicked.connect(self._on_resume)
        self.runs.currentItemChanged.connect(self._on_run)
        self.held_out.activated.connect(self.held_out_selected)
        self.use_button.clicked.connect(lambda: self.use_in_chat_requested.emit(
            self.scale.value()))
        self.scale.valueChanged.connect(self.scale_changed)

    def _data_page(self) -> QWidget:
        page = QWidget()
        row = QHBoxLayout()
        row.addWidget(self.open_button)
        row.addWidget(self.sample_button)
        row.addWidget(self.source_label, 1)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(QLabel("Examples (held-out ones are never trained on):"))
        column.addWidget(self.examples, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.preview)
        split.setSizes([380, 700])
        layout = QVBoxLayout(page)
        layout.addLayout(row)
        layout.addWidget(self.problems)
        layout.addWidget(split, 1)
        return page

    def _train_page(self) -> QWidget:
        form = QWidget()
        column = QVBoxLayout(form)
        column.setContentsMargins(0, 0, 6, 0)
        column.addWidget(self.settings)
        column.addWidget(self.estimate)
        name_row = QHBoxLayout()
        name_row.addWidget(QLabel("Run name:"))
        name_row.addWidget(self.run_name, 1)
        column.addLayout(name_row)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.resume_button)
        buttons.addStretch(1)
        column.addLayout(buttons)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(form)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.loss)
        runs = QWidget()
        runs_column = QVBoxLayout(runs)
        runs_column.setContentsMargins(0, 0, 0, 0)
        runs_column.addWidget(QLabel("Previous runs:"))
        runs_column.addWidget(self.runs, 1)
        right.addWidget(runs)
        right.setSizes([380, 160])
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(scroll)
        split.addWidget(right)
        split.setSizes([560, 520])
        page = QWidget()
        QVBoxLayout(page).addWidget(split)
        return page

    def _effect_page(self) -> QWidget:
        row = QHBoxLayout()
        row.addWidget(QLabel("Held-out example:"))
        row.addWidget(self.held_out, 1)
        row.addSpacing(12)
        row.addWidget(QLabel("Scale:"))
        row.addWidget(self.scale)
        row.addWidget(self.use_button)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(self.adapter_label)
        layout.addLayout(row)
        layout.addWidget(self.effect, 1)
        return page

    # -- set up -----------------------------------------------------------------------------
    def set_settings(self, values: dict[str, Any], help_text: dict[str, str],
                     modules: list[str]) -> None:
        self.settings.set_settings(values, help_text, modules)

    def set_run_name(self, name: str) -> None:
        self.run_name.setText(name)

    # -- intents ----------------------------------------------------------------------------
    def _on_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Training data", "",
                                              "Training data (*.jsonl *.json *.csv);;"
                                              "All files (*)")
        if path:
            self.open_file_requested.emit(path)

    def _on_example(self, row: int) -> None:
        if row >= 0:
            self.example_selected.emit(row)

    def _on_train(self) -> None:
        self.train_requested.emit(self.run_name.text().strip(), self.settings.values())

    def _on_resume(self) -> None:
        if self.selected_run:
            self.resume_requested.emit(self.selected_run)

    def _on_run(self, item: QListWidgetItem | None, _previous: object = None) -> None:
        if item is not None:
            self.selected_run = str(item.data(Qt.ItemDataRole.UserRole))
            self.run_selected.emit(self.selected_run)

    # -- answers: data ----------------------------------------------------------------------
    def show_dataset(self, source: str, titles: list[str], problems: list[str]) -> None:
        self.source_label.setText(f"<b>{html.escape(source)}</b>: {len(titles)} examples"
                                  + (f", {len(problems)} lines skipped" if problems else ""))
        if problems:
            shown = "".join(f"<li>{html.escape(p)}</li>" for p in problems[:12])
            more = f"<li>… and {len(problems) - 12} more</li>" if len(problems) > 12 else ""
            self.problems.setText(f"<b>Skipped, fix these lines and open the file again:</b>"
                                  f"<ul style='margin:0;'>{shown}{more}</ul>")
        self.problems.setVisible(bool(problems))
        self.held_out_rows = set()
        self.examples.clear()
        self.examples.addItems(titles)
        self.preview.clear()
        self.pages.setCurrentIndex(0)
        if titles:
            self.examples.setCurrentRow(0)

    def show_split(self, held_out: set[int]) -> None:
        """Mark the examples the seeded split holds out."""
        self.held_out_rows = set(held_out)
        muted = QBrush(shading.muted(self.palette()))
        for row in range(self.examples.count()):
            item = self.examples.item(row)
            text = item.text().removesuffix(f"  ({_HELD_OUT})")
            is_held = row in held_out
            item.setText(f"{text}  ({_HELD_OUT})" if is_held else text)
            font = QFont(item.font())
            font.setItalic(is_held)
            item.setFont(font)
            if is_held:
                item.setForeground(muted)

    def show_preview(self, preview: Preview, index: int) -> None:
        if index == self.examples.currentRow():
            where = ("held-out example (never trained on)" if index in self.held_out_rows
                     else "training example")
            self.preview.show_preview(preview, f"Example {index + 1}, {where}")

    def show_estimate(self, text: str) -> None:
        self.estimate.setText(text)

    # -- answers: training ------------------------------------------------------------------
    def set_training(self, training: bool, message: str = "") -> None:
        self.train_button.setEnabled(not training)
        self.cancel_button.setEnabled(training)
        self.resume_button.setEnabled(False)
        self.open_button.setEnabled(not training)
        self.sample_button.setEnabled(not training)
        self.runs.setEnabled(not training)
        self.progress.setVisible(training)
        if training:
            self.progress.setValue(0)
            self.pages.setCurrentIndex(1)
        if message:
            self.status.setText(message)

    def show_progress(self, percent: int, text: str) -> None:
        self.progress.setValue(max(0, min(100, percent)))
        self.status.setText(text)

    def show_curves(self, curves: LossCurves) -> None:
        self.loss.show_curves(curves)

    def show_runs(self, rows: list[tuple[str, str]], select: str = "") -> None:
        """(name, one-line description) per run, newest first."""
        blocked = self.runs.blockSignals(True)
        self.runs.clear()
        for name, text in rows:
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.runs.addItem(item)
            if name == select:
                self.runs.setCurrentItem(item)
        self.runs.blockSignals(blocked)
        current = self.runs.currentItem()
        self.selected_run = str(current.data(Qt.ItemDataRole.UserRole)) if current else ""

    def set_resumable(self, resumable: bool) -> None:
        self.resume_button.setEnabled(resumable and not self.cancel_button.isEnabled())

    # -- answers: what changed --------------------------------------------------------------
    def show_adapter(self, name: str, description: str, held_out: list[str]) -> None:
        """A finished run's adapter is ready to measure and use."""
        self.adapter_label.setText(description)
        self.held_out.clear()
        self.held_out.addItems(held_out)
        self.use_button.setEnabled(True)
        self.effect.clear()

    def no_adapter(self, message: str) -> None:
        self.adapter_label.setText(message)
        self.held_out.clear()
        self.use_button.setEnabled(False)
        self.effect.clear()

    def show_effect(self, effect: AdapterEffect) -> None:
        self.effect.show_effect(effect)

    def show_anatomy(self, anatomy: AdapterAnatomy) -> None:
        self.effect.show_anatomy(anatomy)
