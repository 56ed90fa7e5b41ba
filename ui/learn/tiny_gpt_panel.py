"""The Tiny transformer tab: train a small llama-layout model on a text and watch it learn.

Views only: the panel emits what the user asks (train, pause, resume, cancel, save, load) and
the controller (desktop/tiny_gpt_controller.py) feeds it plain values from the training run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ui.learn.tiny_gpt_attention_view import TinyGptAttentionView
from ui.learn.tiny_gpt_embedding_view import TinyGptEmbeddingView
from ui.learn.tiny_gpt_loss_view import TinyGptLossView
from ui.learn.tiny_gpt_samples_view import TinyGptSamplesView
from ui.theme import mark_secondary

if TYPE_CHECKING:
    import numpy as np

_FILE, _COLLECTION = "file", "collection"
_REDRAW_MS = 200  # the loss curve at most five times a second, whatever the step rate
_FRAME_MS = 30  # between two pieces of work that each cost the window a drawing


class TinyGptPanel(QWidget):
    train_requested = Signal(str, dict)  # text spec (see core.foundations.tiny_sources), sizes
    settings_changed = Signal(dict)
    pause_requested = Signal()
    resume_requested = Signal()
    cancel_requested = Signal()
    save_requested = Signal(str)  # the model's name
    load_requested = Signal(str)  # the exported GGUF's path

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source_box = QComboBox()
        self.source_box.setAccessibleName("Text to learn")
        self.source_box.activated.connect(self._on_source_chosen)
        self.source_detail = QLineEdit()
        self.source_detail.setAccessibleName("File or collection")
        self.source_detail.setPlaceholderText("a text file's path, or a collection's name")
        self.source_detail.hide()
        self.layers = self._spin(1, 4, 2, "Layers")
        self.heads = self._spin(1, 8, 4, "Heads")
        self.width_box = QComboBox()
        self.width_box.setAccessibleName("Width")
        for w in (64, 128, 192, 256):
            self.width_box.addItem(str(w), w)
        self.width_box.setCurrentIndex(1)
        self.width_box.currentIndexChanged.connect(self._on_settings)
        self.context = self._spin(8, 256, 64, "Context (tokens)")
        self.steps = self._spin(10, 100_000, 300, "Steps")
        self.lr = QDoubleSpinBox()
        self.lr.setAccessibleName("Learning rate")
        self.lr.setDecimals(4)
        self.lr.setRange(0.0001, 100.0)
        self.lr.setSingleStep(0.001)
        self.lr.setValue(0.003)
        self.lr.valueChanged.connect(self._on_settings)
        self.parameters = QLabel()
        self.parameters.setWordWrap(True)
        mark_secondary(self.parameters)
        self.name_edit = QLineEdit("my-tiny-model")
        self.name_edit.setAccessibleName("Model name")

        self.train_button = QPushButton("Train")
        self.pause_button = QPushButton("Pause")
        self.cancel_button = QPushButton("Cancel")
        self.save_button = QPushButton("Save as GGUF")
        self.load_button = QPushButton("Load as chat model")
        self.train_button.clicked.connect(self._on_train)
        self.pause_button.clicked.connect(self._on_pause)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.save_button.clicked.connect(lambda: self.save_requested.emit(self.name()))
        self.load_button.clicked.connect(lambda: self.load_requested.emit(self.exported))
        self.status = QLabel("Pick a text and press Train.")
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Training status")

        form = QFormLayout()
        form.addRow("Text", self.source_box)
        form.addRow("", self.source_detail)
        form.addRow("Layers", self.layers)
        form.addRow("Heads", self.heads)
        form.addRow("Width", self.width_box)
        form.addRow("Context", self.context)
        form.addRow("Steps", self.steps)
        form.addRow("Learning rate", self.lr)
        form.addRow("Name", self.name_edit)
        buttons = QGridLayout()
        buttons.addWidget(self.train_button, 0, 0)
        buttons.addWidget(self.pause_button, 0, 1)
        buttons.addWidget(self.cancel_button, 0, 2)
        buttons.addWidget(self.save_button, 1, 0, 1, 2)
        buttons.addWidget(self.load_button, 1, 2)
        settings = QGroupBox("Your tiny transformer")
        box = QVBoxLayout(settings)
        box.addLayout(form)
        box.addWidget(self.parameters)
        box.addLayout(buttons)
        box.addWidget(self.status)
        box.addStretch(1)
        settings.setMaximumWidth(380)

        self.loss = TinyGptLossView()
        self.samples = TinyGptSamplesView()
        self.attention = TinyGptAttentionView()
        self.embeddings = TinyGptEmbeddingView()
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.loss)
        left.addWidget(self.samples)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.attention)
        right.addWidget(self.embeddings)
        left.setSizes([500, 400])  # the curves get the larger half: they are the story
        right.setSizes([500, 300])
        views = QSplitter()
        views.addWidget(left)
        views.addWidget(right)
        layout = QHBoxLayout(self)
        layout.addWidget(settings)
        layout.addWidget(views, 1)

        self.exported: str = ""
        self._paused = False
        self._timer = QTimer(self)
        self._timer.setInterval(_REDRAW_MS)
        self._timer.timeout.connect(self._redraw)
        self._status_text = ""
        self._drawn_at = float("-inf")  # when a view was last redrawn (time.monotonic)
        # the panel's own timer, not a bare singleShot: it dies with the panel
        self._to_prepare: list[Callable[[], object]] = []
        self._prepare_timer = QTimer(self)
        self._prepare_timer.setSingleShot(True)
        self._prepare_timer.setInterval(_FRAME_MS)
        self._prepare_timer.timeout.connect(self._prepare_next)
        self.set_running(False)
        self.load_button.setEnabled(False)
        self.save_button.setEnabled(False)

    def _spin(self, low: int, high: int, value: int, name: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setAccessibleName(name)
        spin.setRange(low, high)
        spin.setValue(value)
        spin.valueChanged.connect(self._on_settings)
        return spin

    # -- what the controller sets ----------------------------------------------------------------
    def set_samples(self, samples: list[tuple[str, str]]) -> None:
        """The shipped samples as (label, spec); files and collections are added after."""
        self.source_box.clear()
        for label, spec in samples:
            self.source_box.addItem(label, spec)
        self.source_box.addItem("A text file…", _FILE)
        self.source_box.addItem("A documents collection…", _COLLECTION)
        self._on_settings()

    def set_parameter_text(self, text: str) -> None:
        self.parameters.setText(text)

    def set_running(self, running: bool) -> None:
        self.train_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.cancel_button.setEnabled(running)
        for w in (self.layers, self.heads, self.width_box, self.context, self.steps, self.lr,
                  self.source_box, self.source_detail):
            w.setEnabled(not running)
        if running:
            self._timer.start()
        else:
            self._timer.stop()
            self._redraw()
            self._set_paused(False)

    def set_status(self, text: str) -> None:
        """Shown at the next redraw while training (a wrapped label's relayout per step cost
        the window more than the step's other work), at once otherwise."""
        self._status_text = text
        if not self._timer.isActive():
            self.status.setText(text)

    def prepare_views(self) -> None:
        """Make the plots ahead of the run's first events (the controller calls this while the
        training process starts), one piece per event-loop turn with a frame between: made on
        the first evaluation's events, all at once with their first drawing, they stalled the
        window for 150 ms and more. A view whose data comes first makes itself."""
        self._to_prepare = [self.loss.make, self.loss.prepare, self.attention.prepare,
                            self.embeddings.make, self.embeddings.prepare]
        self._prepare_timer.start()

    def _prepare_next(self) -> None:
        if self._to_prepare:
            self._to_prepare.pop(0)()
        if self._to_prepare:
            self._prepare_timer.start()

    def drew_recently(self) -> bool:
        """Whether a view was redrawn less than a frame ago: two views' drawings in one
        event-loop turn stall the window for their sum, so the next waits (the controller
        holds an evaluation's next view until this is False)."""
        return time.monotonic() - self._drawn_at < _FRAME_MS / 1000

    def _drew(self) -> None:
        self._drawn_at = time.monotonic()

    def _redraw(self) -> None:
        # while training, a tick that follows a view's redraw within the frame leaves the
        # curve to the next tick (a fifth of a second later)
        if not (self._timer.isActive() and self.drew_recently()) and self.loss.redraw():
            self._drew()
        if self.status.text() != self._status_text:
            self.status.setText(self._status_text)

    def set_checkpoint(self, available: bool) -> None:
        self.save_button.setEnabled(available)

    def set_exported(self, path: str) -> None:
        self.exported = path
        self.load_button.setEnabled(bool(path))

    def start_run(self, unigram: float) -> None:
        self.loss.set_unigram(unigram)

    def add_step(self, step: int, loss: float) -> None:
        self.loss.add_train(step, loss)

    def add_held_out(self, step: int, loss: float) -> None:
        self.loss.add_held_out(step, loss)

    def add_sample(self, step: int, prompt: str, text: str) -> None:
        self.samples.add_sample(step, prompt, text)
        self._drew()

    def show_attention(self, step: int, tokens: list[str], maps: np.ndarray) -> None:
        self.attention.show_maps(step, tokens, maps)
        self._drew()

    def show_embeddings(self, step: int, pieces: list[str], xy: np.ndarray,
                        explained: tuple[float, float]) -> None:
        self.embeddings.show_map(step, pieces, xy, explained)
        self._drew()

    def reset_views(self) -> None:
        for view in (self.loss, self.samples, self.attention, self.embeddings):
            view.reset()

    # -- what the user asks ------------------------------------------------------------------
    def sizes(self) -> dict[str, object]:
        return {"layers": self.layers.value(), "heads": self.heads.value(),
                "width": int(self.width_box.currentData()), "context": self.context.value(),
                "steps": self.steps.value(), "learning_rate": self.lr.value()}

    def name(self) -> str:
        return self.name_edit.text().strip()

    def source(self) -> str:
        kind = str(self.source_box.currentData())
        detail = self.source_detail.text().strip()
        if kind == _FILE:
            return detail
        if kind == _COLLECTION:
            return f"collection:{detail}" if detail else ""
        return kind

    def _on_source_chosen(self, index: int) -> None:
        kind = str(self.source_box.itemData(index))
        self.source_detail.setVisible(kind in (_FILE, _COLLECTION))
        if kind == _FILE:
            path, _ = QFileDialog.getOpenFileName(self, "A text to learn from", "",
                                                  "Text files (*.txt *.md);;All files (*)")
            if path:
                self.source_detail.setText(path)

    def _on_settings(self, *_: object) -> None:
        self.settings_changed.emit(self.sizes())

    def _on_train(self) -> None:
        source = self.source()
        if not source:
            self.set_status("Pick a text first: a sample, a file or a collection's name.")
            return
        self.reset_views()
        self.set_exported("")
        self.train_requested.emit(source, self.sizes())

    def _on_pause(self) -> None:
        if self._paused:
            self.resume_requested.emit()
        else:
            self.pause_requested.emit()
        self._set_paused(not self._paused)

    def _set_paused(self, paused: bool) -> None:
        self._paused = paused
        self.pause_button.setText("Resume" if paused else "Pause")
