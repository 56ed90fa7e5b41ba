"""The boundary playground's plain data: network settings and the events a run yields.

No numpy or torch here: the Learn panel imports these names when the window builds its tabs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

DATASETS = ("moons", "circles", "xor", "spirals")
DEFAULT_POINTS = 200
DEFAULT_NOISE = 0.1
ACTIVATIONS = ("relu", "tanh", "sigmoid")
OPTIMIZERS = ("adam", "sgd")
DEFAULT_STEPS = 300
GRID_SIZE = 60
NEURON_MAPS_PER_LAYER = 16  # small multiples beyond this are too small to read


@dataclass(frozen=True)
class NetworkSettings:
    """The network and how it learns. `hidden_layers` may be 0 (a single linear boundary)."""

    hidden_layers: int = 2
    width: int = 8
    activation: str = "tanh"
    optimizer: str = "adam"
    learning_rate: float = 0.03
    batch_size: int = 32
    seed: int = 0

    def layer_sizes(self) -> list[int]:
        """Sizes from the 2 inputs through each hidden layer to the 1 output logit."""
        return [2] + [self.width] * self.hidden_layers + [1]

    def parameter_count(self) -> int:
        sizes = self.layer_sizes()
        return sum(a * b + b for a, b in zip(sizes, sizes[1:], strict=False))


@dataclass(frozen=True)
class BoundaryGrid:
    """The network over an n x n grid covering the data: `probabilities[row, col]` is
    P(class 1) at (xs[col], ys[row]); `neurons[layer]` holds that hidden layer's first
    neurons' activations, shape (k, n, n); `boundary` the line the classes meet on."""

    xs: np.ndarray
    ys: np.ndarray
    probabilities: np.ndarray
    neurons: tuple[np.ndarray, ...]
    boundary: np.ndarray  # where P = 0.5: segments, shape (m, 2, 2) as [[x0, y0], [x1, y1]]


@dataclass(frozen=True)
class TrainStep:
    """The state after `step` gradient steps (0: the untrained network). `loss` is the mean
    binary cross-entropy over the whole training set; `weight_moves[i]` the norm of the change
    of layer i's weights and bias in this step (0 for step 0)."""

    step: int
    loss: float
    test_loss: float
    train_accuracy: float
    test_accuracy: float
    weight_moves: tuple[float, ...]
    grid: BoundaryGrid | None = field(default=None, compare=False)


@dataclass(frozen=True)
class TrainingStopped:
    """Training cannot go on (the loss diverged): `message` says why and what to change."""

    step: int
    loss: float
    message: str
    state: TrainStep | None = field(default=None, compare=False)  # the step it diverged on


BoundaryEvent = TrainStep | TrainingStopped
