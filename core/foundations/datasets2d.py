"""Two-class 2D point sets for the boundary playground: two moons, circles, XOR, spirals, or
points the user clicked, each split into train and test parts.

Plain numpy with a seeded `numpy.random.Generator`: the same name, size, noise and seed give
the same points on every machine, and nothing global is touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import FoundationsError
from core.foundations.boundary_types import DATASETS, DEFAULT_NOISE, DEFAULT_POINTS

__all__ = ["DATASETS", "DEFAULT_NOISE", "DEFAULT_POINTS", "Dataset2D", "from_points",
           "make_dataset"]

DEFAULT_TEST_FRACTION = 0.3
# A model cannot be scored on points it never sees, nor trained on none.
_MIN_PER_PART = 1


@dataclass(frozen=True)
class Dataset2D:
    """Points (n x 2, float32) and their classes (n, 0 or 1), train and test apart.
    `bounds` (x_min, x_max, y_min, y_max) frames every point with a margin: the grid the
    decision boundary is drawn on."""

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    bounds: tuple[float, float, float, float]

    @property
    def points(self) -> np.ndarray:
        return np.concatenate([self.train_x, self.test_x])

    @property
    def labels(self) -> np.ndarray:
        return np.concatenate([self.train_y, self.test_y])


def make_dataset(name: str, points: int = DEFAULT_POINTS, noise: float = DEFAULT_NOISE,
                 seed: int = 0, test_fraction: float = DEFAULT_TEST_FRACTION) -> Dataset2D:
    """One of `DATASETS`, `points` in all (half of each class), jittered by `noise`."""
    makers = {"moons": _moons, "circles": _circles, "xor": _xor, "spirals": _spirals}
    if name not in makers:
        raise FoundationsError(f"There is no dataset called {name!r}; choose one of "
                               f"{', '.join(DATASETS)}.")
    if points < 4:
        raise FoundationsError(f"{points} points are too few: a dataset needs at least 4 "
                               "(two of each class, one of them kept for testing).")
    if noise < 0:
        raise FoundationsError(f"The noise cannot be negative (it was {noise}).")
    rng = np.random.default_rng(seed)
    x, y = makers[name](points, rng)
    x = x + rng.normal(scale=noise, size=x.shape)
    return _split(name, x, y, rng, test_fraction)


def from_points(points: Sequence[tuple[float, float, int]], seed: int = 0,
                test_fraction: float = DEFAULT_TEST_FRACTION, name: str = "your points"
                ) -> Dataset2D:
    """A dataset of points the user placed: (x, y, class) with class 0 or 1."""
    if not points:
        raise FoundationsError("There are no points yet: click in the plot to add some of "
                               "each class.")
    x = np.array([(p[0], p[1]) for p in points], dtype=np.float64)
    y = np.array([int(p[2]) for p in points], dtype=np.int64)
    if not set(np.unique(y).tolist()) <= {0, 1}:
        raise FoundationsError("Each point's class must be 0 or 1.")
    return _split(name, x, y, np.random.default_rng(seed), test_fraction)


def _split(name: str, x: np.ndarray, y: np.ndarray, rng: np.random.Generator,
           test_fraction: float) -> Dataset2D:
    """Shuffle, then keep `test_fraction` of each class for testing (a stratified split, so
    a small set still has both classes on both sides)."""
    counts = [int((y == c).sum()) for c in (0, 1)]
    if min(counts) == 0:
        only = 0 if counts[0] else 1
        raise FoundationsError(
            f"All {len(y)} points are of class {only}: a network learns a boundary between "
            "two classes, so add points of the other class too.")
    if min(counts) < 2 * _MIN_PER_PART:
        raise FoundationsError(
            f"Class {counts.index(min(counts))} has only {min(counts)} point: add at least "
            "one more, so there is one to train on and one to test on.")
    if not 0.0 < test_fraction < 1.0:
        raise FoundationsError(f"The test share must be between 0 and 1 (it was "
                               f"{test_fraction}).")
    train_idx: list[int] = []
    test_idx: list[int] = []
    for c in (0, 1):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = min(max(_MIN_PER_PART, round(len(idx) * test_fraction)),
                     len(idx) - _MIN_PER_PART)
        test_idx += idx[:n_test].tolist()
        train_idx += idx[n_test:].tolist()
    train = rng.permutation(np.array(train_idx))
    test = rng.permutation(np.array(test_idx))
    return Dataset2D(name, x[train].astype(np.float32), y[train].astype(np.int64),
                     x[test].astype(np.float32), y[test].astype(np.int64), _bounds(x))


def _bounds(x: np.ndarray) -> tuple[float, float, float, float]:
    """The points' extent plus 10% each side (at least 0.5 wide), so the boundary shows
    beyond the outermost points."""
    lo, hi = x.min(axis=0), x.max(axis=0)
    pad = np.maximum((hi - lo) * 0.1, 0.25)
    return (float(lo[0] - pad[0]), float(hi[0] + pad[0]),
            float(lo[1] - pad[1]), float(hi[1] + pad[1]))


def _halves(n: int) -> tuple[int, int]:
    return n // 2, n - n // 2


def _moons(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half circles: class 0 the upper arc, class 1 the lower, shifted."""
    a, b = _halves(n)
    t0 = rng.uniform(0.0, np.pi, a)
    t1 = rng.uniform(0.0, np.pi, b)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    return np.concatenate([upper, lower]), np.repeat([0, 1], [a, b])


def _circles(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """An outer ring (class 0, radius 1) around an inner ring (class 1, radius 0.5)."""
    a, b = _halves(n)
    t = rng.uniform(0.0, 2 * np.pi, n)
    radius = np.repeat([1.0, 0.5], [a, b])
    return np.stack([radius * np.cos(t), radius * np.sin(t)], axis=1), np.repeat([0, 1], [a, b])


def _xor(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Four quadrants; class 1 where x and y have the same sign. Points keep a small gap from
    the axes so that, without noise, the classes do not touch."""
    x = rng.uniform(0.1, 1.0, size=(n, 2)) * rng.choice([-1.0, 1.0], size=(n, 2))
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    # Equal classes, as the other sets have: flip the sign of y where one class is short.
    want = n // 2
    ones = np.flatnonzero(y == 1)
    zeros = np.flatnonzero(y == 0)
    if len(ones) > want:
        move = ones[: len(ones) - want]
    else:
        move = zeros[: len(zeros) - (n - want)]
    x[move, 1] *= -1.0
    y[move] = 1 - y[move]
    return x, y


def _spirals(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two spirals wound into each other, one and a half turns each."""
    a, b = _halves(n)
    parts = []
    for count, phase in ((a, 0.0), (b, np.pi)):
        r = np.sqrt(rng.uniform(0.02, 1.0, count))  # even density along the arm
        angle = 3 * np.pi * r + phase
        parts.append(np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1))
    return np.concatenate(parts), np.repeat([0, 1], [a, b])
