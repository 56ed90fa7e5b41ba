"""2D maps by principal component analysis in numpy: linear, deterministic and cheap, and its
axes say how much of the spread they keep (`explained`). Used by the embedding maps
(core.rag.embedding_map) and the token-embedding neighbours (core.engine.token_neighbours)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Projection:
    mean: np.ndarray
    axes: np.ndarray  # [2][dim]
    explained: tuple[float, float]

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        return (np.asarray(vectors, dtype=np.float64) - self.mean) @ self.axes.T


def fit_pca(vectors: np.ndarray) -> Projection:
    """The two principal axes of the rows (a projection to apply to them or to new rows)."""
    # The eigenvectors of the smaller of the Gram (n x n) and covariance (d x d) matrices
    # give the same two axes as an SVD, in microseconds for a few points of 576 dimensions
    # (an SVD there took 40 ms on a busy machine).
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError("PCA needs a non-empty 2D array of vectors")
    mean = x.mean(axis=0)
    centred = x - mean
    total = float(np.square(centred).sum())
    small_n = len(x) <= x.shape[1]
    values, vectors_ = np.linalg.eigh(centred @ centred.T if small_n else centred.T @ centred)
    order = np.argsort(-values)[:2]
    axes = np.zeros((2, x.shape[1]))
    shares = [0.0, 0.0]
    for i, k in enumerate(order):
        value = float(values[k])
        if total <= 0 or value <= 1e-12 * total:
            continue  # no spread along this axis (fewer distinct points than axes)
        axis = centred.T @ vectors_[:, k] / np.sqrt(value) if small_n else vectors_[:, k]
        axis /= np.linalg.norm(axis)
        # Eigenvector signs are arbitrary: make the largest loading positive, so maps of the
        # same data never come out mirrored.
        axes[i] = axis * (1.0 if axis[np.argmax(np.abs(axis))] >= 0 else -1.0)
        shares[i] = value / total
    return Projection(mean, axes, (shares[0], shares[1]))


def pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """2D coordinates of the rows by principal components, and the variance share per axis."""
    projection = fit_pca(vectors)
    return projection.apply(vectors), projection.explained
