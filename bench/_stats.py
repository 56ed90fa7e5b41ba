"""Median and spread of repeated measurements, and whether the spread is small enough to trust."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

# Interquartile range over median above this and the figure is flagged as noisy.
NOISY_SPREAD = 0.25


def time_ms(fn: Callable[[], Any], rounds: int, warmup: int = 1) -> list[float]:
    """Wall-clock milliseconds of `fn()`, `rounds` times after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000.0)
    return samples


def alternate(ours: Callable[[], Any], bare: Callable[[], Any],
              rounds: int) -> tuple[list[float], list[float]]:
    """Time `ours` and `bare` in turn, one call each per round, after one untimed warm-up each
    (imports, page cache, contexts made on first use): both sides see the same machine state."""
    ours()
    bare()
    mine: list[float] = []
    theirs: list[float] = []
    for _ in range(rounds):
        mine += time_ms(ours, 1, warmup=0)
        theirs += time_ms(bare, 1, warmup=0)
    return mine, theirs


def summary(samples: list[float], digits: int = 2) -> dict[str, Any]:
    """Median, quartiles, min and max, and `noisy` when the spread is too large to trust."""
    median = statistics.median(samples)
    if len(samples) >= 4:
        q1, _, q3 = statistics.quantiles(samples, n=4)
    else:
        q1, q3 = min(samples), max(samples)
    spread = (q3 - q1) / median if median else 0.0
    return {
        "median": round(median, digits),
        "q1": round(q1, digits),
        "q3": round(q3, digits),
        "min": round(min(samples), digits),
        "max": round(max(samples), digits),
        "rounds": len(samples),
        "spread": round(spread, 3),
        "noisy": spread > NOISY_SPREAD,
    }


def figure(name: str, ours: list[float], bare: list[float], baseline_is: str, unit: str = "ms",
           **extra: Any) -> dict[str, Any]:
    """One benchmark row: medians of both sides, ratio ours/baseline, spreads."""
    mine, theirs = summary(ours), summary(bare)
    return {
        "name": name,
        "unit": unit,
        "glassbox": mine["median"],
        "baseline": theirs["median"],
        "ratio": round(mine["median"] / theirs["median"], 3),
        "baseline_is": baseline_is,
        "glassbox_spread": mine,
        "baseline_spread": theirs,
        **extra,
    }
