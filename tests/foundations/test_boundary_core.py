"""The boundary playground's core: datasets, training, divergence, refusals (real torch, CPU)."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from core.errors import FoundationsError
from core.foundations.boundary import (
    DEFAULT_STEPS,
    NEURON_MAPS_PER_LAYER,
    BoundaryTrainer,
    NetworkSettings,
    TrainingStopped,
    TrainStep,
    estimate_bytes,
    train,
)
from core.foundations.contour import contour_segments
from core.foundations.datasets2d import DATASETS, from_points, make_dataset


def _steps(events: list[object]) -> list[TrainStep]:
    assert all(isinstance(e, TrainStep) for e in events), events[-1]
    return [e for e in events if isinstance(e, TrainStep)]


def test_two_moons_reach_95_percent_with_the_defaults_and_repeat_for_a_seed() -> None:
    moons = make_dataset("moons")
    first = _steps(list(train(moons, steps=DEFAULT_STEPS)))
    assert len(first) == DEFAULT_STEPS
    assert first[-1].test_accuracy >= 0.95
    assert first[-1].loss < first[0].loss / 5  # it learned, not started lucky
    assert first[0].test_accuracy < 0.95
    again = _steps(list(train(make_dataset("moons"), steps=DEFAULT_STEPS)))
    assert [e.loss for e in again] == [e.loss for e in first]
    other_seed = _steps(list(train(moons, NetworkSettings(seed=1), steps=20)))
    assert [e.loss for e in other_seed] != [e.loss for e in first[:20]]


def test_xor_needs_a_hidden_layer() -> None:
    xor = make_dataset("xor")
    hidden = _steps(list(train(xor, NetworkSettings(hidden_layers=1), steps=400)))
    linear = _steps(list(train(xor, NetworkSettings(hidden_layers=0), steps=400)))
    assert hidden[-1].test_accuracy >= 0.9
    # One straight line cannot split four quadrants: a linear model stays near chance.
    assert linear[-1].train_accuracy <= 0.7
    assert len(linear[-1].weight_moves) == 1 and len(hidden[-1].weight_moves) == 2


def test_each_dataset_has_both_classes_in_both_parts_and_repeats_for_a_seed() -> None:
    for name in DATASETS:
        data = make_dataset(name, points=60, seed=3)
        assert set(data.train_y.tolist()) == {0, 1} and set(data.test_y.tolist()) == {0, 1}
        assert len(data.train_y) + len(data.test_y) == 60
        x0, x1, y0, y1 = data.bounds
        pts = data.points
        assert (pts[:, 0] > x0).all() and (pts[:, 0] < x1).all()
        assert (pts[:, 1] > y0).all() and (pts[:, 1] < y1).all()
        same = make_dataset(name, points=60, seed=3)
        assert np.array_equal(same.train_x, data.train_x)
        assert not np.array_equal(make_dataset(name, points=60, seed=4).train_x, data.train_x)


def test_a_step_reports_weight_moves_and_the_grid() -> None:
    trainer = BoundaryTrainer(make_dataset("moons", points=80), NetworkSettings(width=20),
                              grid_size=24)
    start = trainer.evaluate()
    assert start.step == 0 and start.weight_moves == (0.0, 0.0, 0.0)
    event = trainer.step(grid=True)
    assert isinstance(event, TrainStep) and event.step == 1
    assert len(event.weight_moves) == 3 and all(m > 0 for m in event.weight_moves)
    grid = event.grid
    assert grid is not None and grid.probabilities.shape == (24, 24)
    assert ((grid.probabilities >= 0) & (grid.probabilities <= 1)).all()
    assert [m.shape for m in grid.neurons] == [(NEURON_MAPS_PER_LAYER, 24, 24)] * 2
    assert start.grid is not None and not np.allclose(start.grid.probabilities,
                                                      grid.probabilities)
    later = trainer.step()
    assert isinstance(later, TrainStep) and later.grid is None


def test_a_diverging_learning_rate_stops_with_an_explanation() -> None:
    events = list(train(make_dataset("moons"), NetworkSettings(optimizer="sgd",
                                                               learning_rate=1e9), steps=50))
    stop = events[-1]
    assert isinstance(stop, TrainingStopped)
    assert len(events) < 50
    assert not math.isfinite(stop.loss) or stop.loss > 1e4
    assert "diverged" in stop.message and "Lower the learning rate" in stop.message
    assert "1e+09" in stop.message
    assert stop.state is not None and stop.state.step == stop.step


def test_cancel_stops_the_iterator() -> None:
    cancel = threading.Event()
    seen = []
    for event in train(make_dataset("circles", points=40), steps=100, cancel=cancel):
        seen.append(event)
        if len(seen) == 3:
            cancel.set()
    assert len(seen) == 3


def test_a_dataset_of_one_class_is_refused() -> None:
    with pytest.raises(FoundationsError, match="All 5 points are of class 1.*other class"):
        from_points([(0.1 * i, 0.2, 1) for i in range(5)])
    with pytest.raises(FoundationsError, match="no points"):
        from_points([])
    mixed = from_points([(0, 0, 0), (1, 0, 0), (0, 1, 1), (1, 1, 1)])
    assert sorted(mixed.test_y.tolist()) == [0, 1]


def test_a_network_too_big_for_memory_is_refused_with_the_estimate() -> None:
    huge = NetworkSettings(hidden_layers=50, width=200_000)
    need = estimate_bytes(huge, 200)
    assert need > 10**13  # 50 layers of 200,000^2 weights: tens of terabytes
    with pytest.raises(FoundationsError, match=r"would need about [\d,.]+ TB"):
        BoundaryTrainer(make_dataset("moons"), huge)
    with pytest.raises(FoundationsError, match="activation"):
        BoundaryTrainer(make_dataset("moons"), NetworkSettings(activation="gelu"))


def test_the_boundary_line_is_where_the_probability_crosses_one_half() -> None:
    xs = np.linspace(-1.0, 1.0, 21)
    ys = np.linspace(-2.0, 2.0, 41)
    gx, gy = np.meshgrid(xs, ys)
    line = contour_segments(gx - 0.33, xs, ys, 0.0)  # a vertical line at x = 0.33
    assert line.shape == (40, 2, 2) and np.allclose(line[..., 0], 0.33, atol=1e-6)
    circle = contour_segments(np.hypot(gx, gy), xs, ys, 0.8)
    assert np.allclose(np.hypot(circle[..., 0], circle[..., 1]), 0.8, atol=0.01)
    assert contour_segments(np.ones((5, 5)), xs[:5], ys[:5]).shape == (0, 2, 2)
    trained = BoundaryTrainer(make_dataset("moons", points=60), grid_size=30).grid()
    assert len(trained.boundary) > 0  # an untrained network still splits the plane somewhere
