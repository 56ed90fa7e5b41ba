"""Learn › Boundary playground: watch a small network learn to separate two classes of points.

The panel shows; the controller (desktop/boundary_controller.py) trains on a worker thread and
hands back plain events. Step makes one gradient step and says how far each layer's weights
moved; Play trains until Pause; Reset starts a fresh network with the settings shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ui.learn.boundary_loss_view import BoundaryLossView
from ui.learn.boundary_neurons_view import BoundaryNeuronsView
from ui.learn.boundary_plot_view import BoundaryPlotView
from ui.learn.boundary_settings_view import BoundarySettingsView
from ui.theme import mark_secondary

if TYPE_CHECKING:
    from core.foundations.boundary_types import TrainStep

_INTRO = ("A small network learns to tell orange points from blue ones. The background is its "
          "answer at each place: the line where the colours meet is its decision boundary.")

_MAPS_LATER_MS = 30
_MOVES_HINT = "Press Step to see how far each layer's weights move in one step."


class BoundaryPanel(QWidget):
    first_shown = Signal()  # the controller builds the first network then, not at start-up
    reset_requested = Signal()
    step_requested = Signal()
    play_requested = Signal()
    pause_requested = Signal()
    point_added = Signal(float, float, int)  # x, y, class

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = BoundarySettingsView()
        self.plot = BoundaryPlotView()
        self.loss = BoundaryLossView()
        self.neurons = BoundaryNeuronsView()
        self.step_button = QPushButton("Step")
        self.step_button.setToolTip("One gradient step on one batch")
        self.play_button = QPushButton("Play")
        self.pause_button = QPushButton("Pause")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("A fresh, untrained network with these settings")
        self.step_label = QLabel("step 0")
        self.accuracy_label = QLabel("accuracy: —")
        self.loss_label = QLabel("loss: —")
        self.moves_label = QLabel(_MOVES_HINT)
        self.moves_label.setWordWrap(True)
        # Text that changes every frame must not resize the layout: a resize repaints every
        # plot in the panel (the largest cost a frame could have on the GUI thread).
        for label in (self.step_label, self.accuracy_label, self.loss_label, self.moves_label):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.moves_label.setMinimumHeight(2 * self.moves_label.fontMetrics().lineSpacing())
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        self._shown_once = False
        self._maps: tuple[Any, ...] | None = None  # neuron maps not drawn yet
        self._maps_timer = QTimer(self)
        self._maps_timer.setSingleShot(True)
        self._maps_timer.timeout.connect(self._show_maps)
        self.pause_button.setEnabled(False)
        self._build()
        self.step_button.clicked.connect(self.step_requested)
        self.play_button.clicked.connect(self.play_requested)
        self.pause_button.clicked.connect(self.pause_requested)
        self.reset_button.clicked.connect(self.reset_requested)
        self.plot.point_clicked.connect(self._on_plot_clicked)

    def _build(self) -> None:
        intro = QLabel(_INTRO)
        intro.setWordWrap(True)
        mark_secondary(intro)
        buttons = QHBoxLayout()
        for button in (self.step_button, self.play_button, self.pause_button,
                       self.reset_button):
            buttons.addWidget(button)
        left = QWidget()
        column = QVBoxLayout(left)
        column.addWidget(intro)
        column.addWidget(self.settings)
        column.addLayout(buttons)
        column.addWidget(self.message)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # As wide as the form needs, never wider: the plot takes the rest.
        scroll.setMinimumWidth(left.sizeHint().width() + scroll.verticalScrollBar().sizeHint()
                               .width() + 4)
        middle = QWidget()
        centre = QVBoxLayout(middle)
        centre.setContentsMargins(0, 0, 0, 0)
        centre.addWidget(self.plot, 1)
        legend = QLabel("● training point   ▲ test point (never trained on)")
        mark_secondary(legend)
        centre.addWidget(legend)
        maps = QGroupBox("Hidden neurons: each one's activation over the plane")
        maps_layout = QVBoxLayout(maps)
        maps_scroll = QScrollArea()
        maps_scroll.setWidget(self.neurons)
        maps_scroll.setWidgetResizable(True)
        maps_scroll.setMinimumHeight(130)
        maps_layout.addWidget(maps_scroll)
        centre.addWidget(maps)
        right = QWidget()
        stats = QVBoxLayout(right)
        stats.setContentsMargins(0, 0, 0, 0)
        right.setMinimumWidth(280)  # the labels below do not size it (they change per frame)
        for label in (self.step_label, self.accuracy_label, self.loss_label):
            stats.addWidget(label)
        stats.addWidget(self.loss, 3)
        moved = QGroupBox("Weights moved in the last step")
        QVBoxLayout(moved).addWidget(self.moves_label)
        stats.addWidget(moved)
        stats.addStretch(1)
        split = QSplitter()
        split.addWidget(scroll)
        split.addWidget(middle)
        split.addWidget(right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 3)
        split.setStretchFactor(2, 2)
        split.setChildrenCollapsible(False)
        QVBoxLayout(self).addWidget(split)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            self.first_shown.emit()

    # -- what the controller shows --------------------------------------------------------------
    def show_data(self, train_x: object, train_y: object, test_x: object, test_y: object,
                  bounds: tuple[float, float, float, float]) -> None:
        """A fresh network on these points: the history is cleared."""
        self.plot.show_points(train_x, train_y, test_x, test_y, bounds)
        self.loss.reset()
        self._maps = None
        self._maps_timer.stop()
        self.neurons.clear()
        self.moves_label.setText(_MOVES_HINT)
        self.show_message("")

    def show_user_points(self, points: list[tuple[float, float, int]], why: str) -> None:
        """The user's points while they are not yet a dataset, and what is missing."""
        self.plot.show_empty(points)
        self.loss.reset()
        self.neurons.clear()
        self.step_label.setText("step 0")
        self.show_message(why)
        self.set_trainable(False)

    def show_steps(self, steps: list[TrainStep]) -> None:
        """Steps since the last frame, oldest first: the curve grows, the rest shows the last
        one (the boundary from the newest step that carries a grid)."""
        if not steps:
            return
        last = steps[-1]
        self.loss.add([(s.step, s.loss, s.test_loss) for s in steps if s.step > 0],
                      now=not self.pause_button.isEnabled())  # throttled while playing
        self.step_label.setText(f"step {last.step:,}")
        self.accuracy_label.setText(f"accuracy: train {last.train_accuracy:.1%} · "
                                    f"test {last.test_accuracy:.1%}")
        self.loss_label.setText(f"loss: train {last.loss:.4f} · test {last.test_loss:.4f}")
        if last.step > 0:
            self.moves_label.setText(_moves(last.weight_moves))
        grids = [s.grid for s in steps if s.grid is not None]
        if grids:
            self.plot.show_probabilities(grids[-1].probabilities, grids[-1].boundary)
            self._maps = grids[-1].neurons
            if not self.pause_button.isEnabled():
                self._show_maps()
            elif not self._maps_timer.isActive():
                # While playing, the maps are painted in a pass of their own, a moment after
                # the boundary: two short stalls of the GUI thread rather than one long one.
                self._maps_timer.start(_MAPS_LATER_MS)
        self.set_trainable(True)

    def _show_maps(self) -> None:
        self._maps_timer.stop()
        if self._maps is not None:
            self.neurons.show_maps(self._maps)
            self._maps = None

    def show_stopped(self, message: str, loss: float) -> None:
        self.loss_label.setText(f"loss: train {loss:g} (diverged)")
        self.show_message(message)
        self.set_playing(False)
        self.step_button.setEnabled(False)
        self.play_button.setEnabled(False)

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def set_playing(self, playing: bool) -> None:
        if not playing:
            self.loss.flush()  # the last points, held back by the throttle
            self._show_maps()
        self.play_button.setEnabled(not playing)
        self.step_button.setEnabled(not playing)
        self.pause_button.setEnabled(playing)

    def set_trainable(self, can: bool) -> None:
        self.step_button.setEnabled(can and not self.pause_button.isEnabled())
        self.play_button.setEnabled(can and not self.pause_button.isEnabled())

    def _on_plot_clicked(self, x: float, y: float) -> None:
        if self.settings.user_points():
            self.point_added.emit(x, y, self.settings.click_class_index())


def _moves(moves: tuple[float, ...]) -> str:
    names = [f"layer {i + 1}" for i in range(len(moves) - 1)] + ["output"]
    return "   ".join(f"{name}: {move:.4g}" for name, move in zip(names, moves, strict=True))
