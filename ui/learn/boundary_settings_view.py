"""The playground's settings: which points, which network, how it learns, the seed.

Every change is one `changed` signal: the controller starts a fresh network with the new
settings (as the playgrounds people know do), so what is on screen always matches the form.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QPushButton,
    QSpinBox,
    QWidget,
)

from core.foundations.boundary_types import (
    ACTIVATIONS,
    DATASETS,
    DEFAULT_NOISE,
    DEFAULT_POINTS,
    OPTIMIZERS,
    NetworkSettings,
)

USER_POINTS = "your points"
LEARNING_RATES = (0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0, 1e9)
_TITLES = {"moons": "two moons", "circles": "circles", "xor": "XOR", "spirals": "spirals"}
MAX_LAYERS = 6
MAX_WIDTH = 64


class BoundarySettingsView(QWidget):
    changed = Signal()
    clear_points_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        net = NetworkSettings()
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.dataset_box = QComboBox()
        for name in DATASETS:
            self.dataset_box.addItem(_TITLES.get(name, name), name)
        self.dataset_box.addItem("your points (click to add)", USER_POINTS)
        form.addRow("Data", self.dataset_box)
        self.click_class = QComboBox()
        self.click_class.addItems(["orange (class 0)", "blue (class 1)"])
        self.click_class.setToolTip("The class a click in the plot adds")
        self.clear_button = QPushButton("Clear points")
        clicks = QWidget()
        row = QHBoxLayout(clicks)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.click_class, 1)
        row.addWidget(self.clear_button)
        form.addRow("Clicks add", clicks)
        self.points_box = _spin(20, 2000, DEFAULT_POINTS, 20)
        form.addRow("Points", self.points_box)
        self.noise_box = QDoubleSpinBox()
        self.noise_box.setRange(0.0, 1.0)
        self.noise_box.setSingleStep(0.05)
        self.noise_box.setValue(DEFAULT_NOISE)
        form.addRow("Noise", self.noise_box)
        self.layers_box = _spin(0, MAX_LAYERS, net.hidden_layers)
        self.layers_box.setToolTip("0 hidden layers: the network can only draw a straight line")
        form.addRow("Hidden layers", self.layers_box)
        self.width_box = _spin(1, MAX_WIDTH, net.width)
        form.addRow("Neurons per layer", self.width_box)
        self.activation_box = QComboBox()
        self.activation_box.addItems(ACTIVATIONS)
        self.activation_box.setCurrentText(net.activation)
        form.addRow("Activation", self.activation_box)
        self.optimizer_box = QComboBox()
        self.optimizer_box.addItems([o.upper() if o == "sgd" else o.title() for o in OPTIMIZERS])
        form.addRow("Optimizer", self.optimizer_box)
        self.rate_box = QComboBox()
        for rate in LEARNING_RATES:
            self.rate_box.addItem(f"{rate:g}", rate)
        self.rate_box.setCurrentIndex(LEARNING_RATES.index(net.learning_rate))
        self.rate_box.setToolTip("Too large and the loss diverges: try 1e9 with SGD")
        form.addRow("Learning rate", self.rate_box)
        self.batch_box = _spin(1, 512, net.batch_size)
        form.addRow("Batch size", self.batch_box)
        self.seed_box = _spin(0, 1_000_000, net.seed)
        self.seed_box.setToolTip("The same seed gives the same points, start and run")
        form.addRow("Seed", self.seed_box)
        for box in (self.dataset_box, self.activation_box, self.optimizer_box, self.rate_box):
            box.currentIndexChanged.connect(self._on_changed)
        for spin in (self.points_box, self.noise_box, self.layers_box, self.width_box,
                     self.batch_box, self.seed_box):
            spin.valueChanged.connect(self._on_changed)
        self.clear_button.clicked.connect(self.clear_points_requested)
        self._form = form
        self._on_dataset_shown()

    def dataset(self) -> str:
        return str(self.dataset_box.currentData())

    def user_points(self) -> bool:
        return self.dataset() == USER_POINTS

    def click_class_index(self) -> int:
        return self.click_class.currentIndex()

    def points(self) -> int:
        return self.points_box.value()

    def noise(self) -> float:
        return self.noise_box.value()

    def seed(self) -> int:
        return self.seed_box.value()

    def settings(self) -> NetworkSettings:
        return NetworkSettings(
            hidden_layers=self.layers_box.value(), width=self.width_box.value(),
            activation=self.activation_box.currentText(),
            optimizer=OPTIMIZERS[self.optimizer_box.currentIndex()],
            learning_rate=float(self.rate_box.currentData()),
            batch_size=self.batch_box.value(), seed=self.seed_box.value())

    def set_learning_rate(self, rate: float) -> None:
        self.rate_box.setCurrentIndex(LEARNING_RATES.index(rate))

    def _on_changed(self, *_: object) -> None:
        self._on_dataset_shown()
        self.changed.emit()

    def _on_dataset_shown(self) -> None:
        """The click class and Clear only for the user's points; size and noise otherwise."""
        mine = self.user_points()
        self._form.setRowVisible(1, mine)
        self._form.setRowVisible(2, not mine)
        self._form.setRowVisible(3, not mine)


def _spin(lo: int, hi: int, value: int, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    return box
