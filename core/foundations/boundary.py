"""The boundary playground's network: a small MLP on 2D points, trained one step at a time.

`BoundaryTrainer` owns the model, its optimizer and its own random generator; `step()` makes
one gradient step and returns a plain frozen event (the loss, train and test accuracy, how far
each layer's weights moved, and on request the decision boundary and each hidden neuron's
activation map on a grid). `train()` is the same as an iterator with a cancel token, for the
CLI and the window's worker thread.

Why it is shaped so:
- A network small enough to watch trains in about a millisecond a step on one core, so the
  whole training set and test set are scored after every step (a smooth loss curve and honest
  accuracies cost less than drawing them).
- torch runs on one intra-op thread: the runs repeat exactly for a seed, and the window's GUI
  thread keeps a core of its own while the playground trains.
- A loss that turns NaN or infinite (a learning rate far too large) ends the run with a
  `TrainingStopped` event that says why, not an exception: it is a lesson, not a failure.
- torch is imported inside the functions, never when this module is imported.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import FoundationsError
from core.foundations.boundary_types import (
    ACTIVATIONS,
    DEFAULT_STEPS,
    GRID_SIZE,
    NEURON_MAPS_PER_LAYER,
    OPTIMIZERS,
    BoundaryEvent,
    BoundaryGrid,
    NetworkSettings,
    TrainingStopped,
    TrainStep,
)
from core.foundations.contour import contour_segments
from core.foundations.datasets2d import Dataset2D

if TYPE_CHECKING:
    import torch

# A binary cross-entropy this large means the logits are thousands of units on the wrong
# side: the weights are running away even while the numbers are still finite.
DIVERGED_LOSS = 1e4
# Bytes per weight while training: the weight, its gradient, Adam's two moments, and the copy
# taken before each step to measure how far it moved.
_BYTES_PER_WEIGHT = 5 * 4
_FALLBACK_BUDGET = 4 * 1024**3  # where the system will not say how much memory is free


def estimate_bytes(settings: NetworkSettings, points: int, grid_size: int = GRID_SIZE) -> int:
    """Memory a run needs: weights with their optimizer state, plus the activations of a
    batch, of the whole dataset and of the grid (every hidden layer, forward and backward)."""
    hidden = settings.hidden_layers * settings.width + 1
    rows = settings.batch_size + points + grid_size * grid_size
    return settings.parameter_count() * _BYTES_PER_WEIGHT + rows * hidden * 4 * 3


def check_settings(settings: NetworkSettings, points: int, grid_size: int = GRID_SIZE,
                   budget: int | None = None) -> None:
    """Raise FoundationsError for settings that cannot train: out of range, or a network that
    would not fit in `budget` bytes (default: half the memory free now)."""
    if settings.activation not in ACTIVATIONS:
        raise FoundationsError(f"Unknown activation {settings.activation!r}; choose one of "
                               f"{', '.join(ACTIVATIONS)}.")
    if settings.optimizer not in OPTIMIZERS:
        raise FoundationsError(f"Unknown optimizer {settings.optimizer!r}; choose one of "
                               f"{', '.join(OPTIMIZERS)}.")
    if settings.hidden_layers < 0 or settings.width < 1:
        raise FoundationsError("A network needs 0 or more hidden layers of at least one "
                               "neuron each.")
    if not settings.learning_rate > 0 or not math.isfinite(settings.learning_rate):
        raise FoundationsError(f"The learning rate must be a positive number (it was "
                               f"{settings.learning_rate}).")
    if settings.batch_size < 1:
        raise FoundationsError("The batch size must be at least 1.")
    need = estimate_bytes(settings, points, grid_size)
    if budget is None:
        budget = _memory_budget()
    if need > budget:
        raise FoundationsError(
            f"A network of {settings.hidden_layers} hidden layers of {settings.width:,} "
            f"neurons has {settings.parameter_count():,} weights and would need about "
            f"{_size(need)} of memory to train; {_size(budget)} can be spared here. Use "
            "fewer layers or fewer neurons per layer.")


def _memory_budget() -> int:
    from core.models.hardware import memory

    total, available = memory()
    free = available or total
    return free // 2 if free else _FALLBACK_BUDGET


def _size(n: int) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n / 1e3:,.0f} KB"


__all__ = ["ACTIVATIONS", "DEFAULT_STEPS", "GRID_SIZE", "NEURON_MAPS_PER_LAYER", "OPTIMIZERS",
           "BoundaryEvent", "BoundaryGrid", "BoundaryTrainer", "NetworkSettings",
           "TrainStep", "TrainingStopped", "check_settings", "estimate_bytes", "train"]


class BoundaryTrainer:
    """One network learning one dataset. Not thread-safe: one thread drives it."""

    def __init__(self, dataset: Dataset2D, settings: NetworkSettings | None = None,
                 grid_size: int = GRID_SIZE) -> None:
        import torch

        settings = settings or NetworkSettings()
        check_settings(settings, len(dataset.labels), grid_size)
        torch.set_num_threads(1)  # repeatable sums, and a core left to the GUI
        self.dataset = dataset
        self.settings = settings
        self.grid_size = grid_size
        self.steps_done = 0
        self.stopped: TrainingStopped | None = None
        self._generator = torch.Generator().manual_seed(settings.seed)
        # The initial weights come from torch's global generator (nn.Linear draws them there):
        # fork it so the seed decides them without changing anyone else's random state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(settings.seed)
            self._layers = _build(settings)
        self._model = torch.nn.Sequential(*self._layers)
        params = self._model.parameters()
        if settings.optimizer == "adam":
            self._optimizer: Any = torch.optim.Adam(params, lr=settings.learning_rate)
        else:
            self._optimizer = torch.optim.SGD(params, lr=settings.learning_rate)
        self._loss = torch.nn.BCEWithLogitsLoss()
        self._train_x = torch.from_numpy(dataset.train_x)
        self._train_y = torch.from_numpy(dataset.train_y.astype(np.float32))
        self._test_x = torch.from_numpy(dataset.test_x)
        self._test_y = torch.from_numpy(dataset.test_y.astype(np.float32))
        self._order = torch.empty(0, dtype=torch.long)
        self._batch_size = min(settings.batch_size, len(dataset.train_y))

    @property
    def linear_layers(self) -> int:
        return self.settings.hidden_layers + 1

    def evaluate(self, grid: bool = True) -> TrainStep:
        """The network as it is now, without training (step 0 before the first step)."""
        return self._scored(tuple(0.0 for _ in range(self.linear_layers)), grid)

    def step(self, grid: bool = False) -> BoundaryEvent:
        """One gradient step on the next batch; the grid too when `grid` is true. After the
        loss diverged, returns the same TrainingStopped again."""
        import torch

        if self.stopped is not None:
            return self.stopped
        batch = self._next_batch()
        before = [p.detach().clone() for p in self._model.parameters()]
        self._optimizer.zero_grad(set_to_none=True)
        loss = self._loss(self._model(self._train_x[batch]).squeeze(1), self._train_y[batch])
        if torch.isfinite(loss):
            loss.backward()
            self._optimizer.step()
        self.steps_done += 1
        after = list(self._model.parameters())
        moves = []
        for i in range(0, len(after), 2):  # each Linear: weight, then bias
            moved = sum(float((after[j].detach() - before[j]).pow(2).sum()) for j in (i, i + 1))
            moves.append(math.sqrt(moved))
        event = self._scored(tuple(moves), grid)
        return self._diverged(event) or event

    def run(self, steps: int, cancel: threading.Event | None = None,
            grid_every: int = 0) -> Iterator[BoundaryEvent]:
        """`steps` more steps as events; the grid on every `grid_every`-th (0: never) and on
        the last. Ends early, quietly, when `cancel` is set or the loss diverged."""
        for i in range(steps):
            if cancel is not None and cancel.is_set():
                return
            last = i == steps - 1
            want_grid = last or (grid_every > 0 and (self.steps_done + 1) % grid_every == 0)
            event = self.step(grid=want_grid)
            yield event
            if isinstance(event, TrainingStopped):
                return

    def grid(self) -> BoundaryGrid:
        """P(class 1) and the hidden neurons' activations over the data's bounds."""
        import torch

        x0, x1, y0, y1 = self.dataset.bounds
        n = self.grid_size
        xs = np.linspace(x0, x1, n, dtype=np.float32)
        ys = np.linspace(y0, y1, n, dtype=np.float32)
        gx, gy = np.meshgrid(xs, ys)  # rows follow y, columns x
        h = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], axis=1))
        maps = []
        with torch.no_grad():
            for layer in self._layers[:-1]:
                h = layer(h)
                if not isinstance(layer, torch.nn.Linear):  # after each activation
                    k = min(NEURON_MAPS_PER_LAYER, h.shape[1])
                    maps.append(h[:, :k].T.reshape(k, n, n).numpy().copy())
            logits = self._layers[-1](h).reshape(n, n)
            probs = torch.sigmoid(logits).numpy().copy()
        return BoundaryGrid(xs, ys, probs, tuple(maps), contour_segments(probs, xs, ys, 0.5))

    # -- inside ---------------------------------------------------------------------------------
    def _next_batch(self) -> torch.Tensor:
        """The next batch of an epoch drawn in a seeded order: each point once per epoch."""
        import torch

        if len(self._order) < self._batch_size:
            self._order = torch.randperm(len(self._train_y), generator=self._generator)
        batch, self._order = self._order[: self._batch_size], self._order[self._batch_size:]
        return batch

    def _scored(self, moves: tuple[float, ...], grid: bool) -> TrainStep:
        import torch

        with torch.no_grad():
            train_logits = self._model(self._train_x).squeeze(1)
            test_logits = self._model(self._test_x).squeeze(1)
            loss = float(self._loss(train_logits, self._train_y))
            test_loss = float(self._loss(test_logits, self._test_y))
            train_acc = float(((train_logits > 0).float() == self._train_y).float().mean())
            test_acc = float(((test_logits > 0).float() == self._test_y).float().mean())
        return TrainStep(self.steps_done, loss, test_loss, train_acc, test_acc, moves,
                         self.grid() if grid else None)

    def _diverged(self, event: TrainStep) -> TrainingStopped | None:
        if math.isfinite(event.loss) and event.loss < DIVERGED_LOSS:
            return None
        lr = self.settings.learning_rate
        shown = "NaN" if math.isnan(event.loss) else (
            "infinite" if math.isinf(event.loss) else f"{event.loss:,.0f}")
        self.stopped = TrainingStopped(
            event.step, event.loss,
            f"Training stopped at step {event.step}: the loss diverged ({shown}). With a "
            f"learning rate of {lr:g} each step overshoots so far that the weights run away "
            f"instead of settling. Lower the learning rate (try {lr / 10:g} or less) and "
            "start again.", event)
        return self.stopped


def _build(settings: NetworkSettings) -> list[Any]:
    import torch

    activation = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh,
                  "sigmoid": torch.nn.Sigmoid}[settings.activation]
    sizes = settings.layer_sizes()
    layers: list[Any] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return layers


def train(dataset: Dataset2D, settings: NetworkSettings | None = None,
          steps: int = DEFAULT_STEPS, cancel: threading.Event | None = None,
          grid_every: int = 0) -> Iterator[BoundaryEvent]:
    """Train a fresh network for `steps` steps: a TrainStep per step (the grid every
    `grid_every`-th and on the last), or a TrainingStopped at the end if the loss diverged.
    Bad settings raise FoundationsError before the first event."""
    trainer = BoundaryTrainer(dataset, settings)
    return trainer.run(steps, cancel, grid_every)
