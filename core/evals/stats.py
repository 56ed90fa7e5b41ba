"""Confidence intervals and significance for eval scores: the percentile bootstrap over items.

Seeded numpy generators, so the same scores always give the same interval. A statistic is a
function of item indices, which covers means (accuracy, F1, BLEU per sentence) and corpus
metrics that do not split into per-item means (macro-F1) alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 1234
_CONFIDENCE = 0.95

Statistic = Callable[[np.ndarray], float]  # item indices (with repeats) -> value


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class Difference:
    """Subject A minus subject B on the same items, and how often resampling reversed it."""

    delta: float
    low: float
    high: float
    p_value: float  # two-sided: twice the share of resamples on the other side of zero
    n: int

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0

    def note(self, a: str, b: str, metric: str) -> str:
        if not self.significant:
            return (f"{a} and {b} do not differ significantly on {metric} "
                    f"(Δ {self.delta:+.3g}, 95% CI {self.low:+.3g}..{self.high:+.3g}, "
                    f"n={self.n}).")
        better = a if self.delta > 0 else b
        return (f"{better} is significantly higher on {metric} (Δ {self.delta:+.3g}, 95% CI "
                f"{self.low:+.3g}..{self.high:+.3g}, paired bootstrap p≈{self.p_value:.3f}, "
                f"n={self.n}).")


def _resamples(n: int, resamples: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def mean_of(values: Sequence[float]) -> Statistic:
    array = np.asarray(values, dtype=np.float64)
    return lambda idx: float(array[idx].mean())


def bootstrap(statistic: Statistic, n: int, resamples: int = DEFAULT_RESAMPLES,
              seed: int = DEFAULT_SEED) -> Interval:
    """The statistic over all n items, with a 95% percentile-bootstrap interval."""
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    value = statistic(np.arange(n))
    draws = np.array([statistic(idx) for idx in _resamples(n, resamples, seed)])
    tail = (1 - _CONFIDENCE) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return Interval(value, float(low), float(high), n)


def paired_bootstrap(a: Statistic, b: Statistic, n: int, resamples: int = DEFAULT_RESAMPLES,
                     seed: int = DEFAULT_SEED) -> Difference:
    """A minus B where both scored the same n items: each resample draws the same items for
    both, so item difficulty cancels out (Koehn 2004's paired bootstrap)."""
    if n == 0:
        return Difference(float("nan"), float("nan"), float("nan"), 1.0, 0)
    everything = np.arange(n)
    delta = a(everything) - b(everything)
    draws = np.array([a(idx) - b(idx) for idx in _resamples(n, resamples, seed)])
    tail = (1 - _CONFIDENCE) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    other_side = float(np.mean(draws <= 0)) if delta > 0 else float(np.mean(draws >= 0))
    p_value = 1.0 if delta == 0 else min(1.0, 2 * other_side)
    return Difference(float(delta), float(low), float(high), p_value, n)
