"""The steering lab: build a direction from contrastive pairs, see which layers separate them,
and steer the model with it over a layer range at a chosen strength. A view: it shows what
the controller gives it and emits what the person asks for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ui.learn.steering_replies_view import SteeringRepliesView
from ui.learn.steering_separation_view import SteeringSeparationView
from ui.theme import mark_secondary

if TYPE_CHECKING:
    from core.engine.steering_types import SteeringDirection, SteeringRun

_FILE = "\0file"
_SLIDER_STEPS = 10  # strength in tenths: the slider runs -20..20


class SteeringPanel(QWidget):
    build_requested = Signal(str)  # a starter set's file, or a pairs file the person chose
    cancel_requested = Signal()
    run_requested = Signal(str, int, int, float)  # prompt, first layer, last layer, strength
    save_requested = Signal(str, int, int)  # path, layer range
    load_requested = Signal(str)
    use_in_chat_requested = Signal(int, int, float)  # first layer, last layer, strength
    stop_in_chat_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(QLabel("Pairs:"))
        self.pairs_box = QComboBox()
        self.pairs_box.setAccessibleName("Contrastive pairs")
        top.addWidget(self.pairs_box, 1)
        self.build_button = QPushButton("Build direction")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Progress")
        self.progress.setVisible(False)
        top.addWidget(self.build_button)
        top.addWidget(self.cancel_button)
        top.addWidget(self.progress)
        self.load_button = QPushButton("Load vector…")
        self.save_button = QPushButton("Save vector…")
        self.save_button.setEnabled(False)
        top.addWidget(self.load_button)
        top.addWidget(self.save_button)
        outer.addLayout(top)
        self.status = QLabel("Pick pairs and build a direction: the model reads each side, "
                             "and the difference of its hidden states becomes the direction.")
        self.status.setWordWrap(True)
        mark_secondary(self.status)
        outer.addWidget(self.status)

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Layers"))
        self.first_layer = QSpinBox()
        self.last_layer = QSpinBox()
        for box, name in ((self.first_layer, "First steered layer"),
                          (self.last_layer, "Last steered layer")):
            box.setAccessibleName(name)
            box.setRange(1, 1)
            box.valueChanged.connect(self._on_range_changed)
            controls.addWidget(box)
        controls.addWidget(QLabel("Strength"))
        self.strength = QSlider(Qt.Orientation.Horizontal)
        self.strength.setAccessibleName("Strength")
        self.strength.setRange(-2 * _SLIDER_STEPS, 2 * _SLIDER_STEPS)
        self.strength.setValue(_SLIDER_STEPS)
        self.strength_label = QLabel()
        self.strength.valueChanged.connect(self._on_strength)
        controls.addWidget(self.strength, 1)
        controls.addWidget(self.strength_label)
        outer.addLayout(controls)
        prompt_row = QHBoxLayout()
        self.prompt = QLineEdit("Tell me about your weekend.")
        self.prompt.setAccessibleName("Prompt to steer")
        self.run_button = QPushButton("Steer")
        self.run_button.setEnabled(False)
        prompt_row.addWidget(QLabel("Prompt:"))
        prompt_row.addWidget(self.prompt, 1)
        prompt_row.addWidget(self.run_button)
        outer.addLayout(prompt_row)
        chat_row = QHBoxLayout()
        self.chat_button = QPushButton("Use in chat")
        self.chat_button.setToolTip("Steer every chat reply with this direction, over these "
                                    "layers at this strength, until you stop it")
        self.chat_button.setEnabled(False)
        self.chat_stop_button = QPushButton("Stop steering the chat")
        self.chat_stop_button.setEnabled(False)
        self.chat_state = QLabel("The chat is not steered.")
        mark_secondary(self.chat_state)
        chat_row.addWidget(self.chat_button)
        chat_row.addWidget(self.chat_stop_button)
        chat_row.addWidget(self.chat_state, 1)
        outer.addLayout(chat_row)

        split = QSplitter(Qt.Orientation.Vertical)
        self.separation = SteeringSeparationView()
        self.replies = SteeringRepliesView()
        split.addWidget(self.separation)
        split.addWidget(self.replies)
        split.setSizes([160, 340])
        outer.addWidget(split, 1)

        self.build_button.clicked.connect(self._on_build)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.run_button.clicked.connect(self._on_run)
        self.prompt.returnPressed.connect(self._on_run)
        self.save_button.clicked.connect(self._on_save)
        self.load_button.clicked.connect(self._on_load)
        self.chat_button.clicked.connect(self._on_use_in_chat)
        self.chat_stop_button.clicked.connect(self.stop_in_chat_requested)
        self._direction: SteeringDirection | None = None
        self._on_strength(self.strength.value())

    # -- what the controller sets -----------------------------------------------------------
    def set_starters(self, starters: list[tuple[str, str]]) -> None:
        """(label, file) of each starter set; a "Pairs file…" entry comes last."""
        self.pairs_box.clear()
        for label, path in starters:
            self.pairs_box.addItem(label, path)
        self.pairs_box.addItem("Pairs file (JSON lines)…", _FILE)

    def set_busy(self, busy: bool, message: str = "") -> None:
        self.build_button.setEnabled(not busy)
        self.run_button.setEnabled(not busy and self._direction is not None)
        self.chat_button.setEnabled(not busy and self._direction is not None)
        self.cancel_button.setEnabled(busy)
        self.progress.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)
        if message:
            self.status.setText(message)

    def show_progress(self, done: int, total: int, what: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.status.setText(what)

    def show_direction(self, direction: SteeringDirection, layers: tuple[int, int],
                       source: str) -> None:
        self._direction = direction
        for box in (self.first_layer, self.last_layer):
            box.blockSignals(True)
            box.setRange(1, direction.n_layer - 1)
            box.blockSignals(False)
        self.first_layer.setValue(layers[0])
        self.last_layer.setValue(layers[1])
        self.separation.show_direction(direction, layers)
        scored = [s for s in direction.separation if s.accuracy is not None]
        line = f"{source}: {direction.n_pairs} pairs, {direction.n_layer} layers."
        if scored:
            best = direction.best_layer
            acc = direction.separation[best].accuracy or 0.0
            line += f" Layer {best} separates best ({acc:.0%} of held-out pairs)."
        self.status.setText(f"{line} {direction.note}".strip())
        self.set_busy(False)
        self.save_button.setEnabled(True)

    def show_run(self, run: SteeringRun) -> None:
        self.replies.show_run(run)
        broken = [r for r in run.replies if r.degenerate]
        note = (f" {len(broken)} repl{'y' if len(broken) == 1 else 'ies'} degenerated: that "
                "strength pushes the model off its text.") if broken else ""
        self.status.setText(f"Steered layers {run.layers[0]}-{run.layers[1]} in "
                            f"{run.seconds:.1f} s; shading reads layer {run.projection_layer}."
                            + note)
        self.set_busy(False)

    def show_chat_steering(self, steering: tuple[str, float, tuple[int, int]] | None) -> None:
        """What the chat's model is steered with: (vector file, strength, layers), or None."""
        self.chat_stop_button.setEnabled(steering is not None)
        if steering is None:
            self.chat_state.setText("The chat is not steered.")
            return
        _, strength, (first, last) = steering
        self.chat_state.setText(f"Every chat reply is steered: layers {first}-{last}, "
                                f"strength {strength:+.1f}.")

    def show_failed(self, message: str) -> None:
        self.set_busy(False)
        self.status.setText(message)

    # -- what the person asks for -----------------------------------------------------------
    def layers(self) -> tuple[int, int]:
        return self.first_layer.value(), self.last_layer.value()

    def strength_value(self) -> float:
        return self.strength.value() / _SLIDER_STEPS

    def _on_strength(self, value: int) -> None:
        self.strength_label.setText(f"{value / _SLIDER_STEPS:+.1f}")

    def _on_range_changed(self, *_: object) -> None:
        if self.first_layer.value() > self.last_layer.value():
            self.last_layer.setValue(self.first_layer.value())
        self.separation.set_range(self.layers())

    def _on_build(self) -> None:
        choice = str(self.pairs_box.currentData())
        if choice == _FILE:
            choice, _ = QFileDialog.getOpenFileName(self, "Contrastive pairs", "",
                                                    "JSON lines (*.jsonl);;All files (*)")
            if not choice:
                return
        self.build_requested.emit(choice)

    def _on_run(self) -> None:
        if self._direction is not None and self.run_button.isEnabled():
            self.run_requested.emit(self.prompt.text(), *self.layers(), self.strength_value())

    def _on_use_in_chat(self) -> None:
        if self._direction is not None:
            self.use_in_chat_requested.emit(*self.layers(), self.strength_value())

    def _on_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save control vector", "steering.gguf",
                                              "Control vectors (*.gguf)")
        if path:
            self.save_requested.emit(path, *self.layers())

    def _on_load(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load control vector", "",
                                              "Control vectors (*.gguf);;All files (*)")
        if path:
            self.load_requested.emit(path)
