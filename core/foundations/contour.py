"""Where a sampled 2D field crosses a level, as line segments (marching squares, in numpy).

The boundary playground draws the decision boundary (P = 0.5) as a line. Tracing it here, on
the training thread, leaves the GUI thread one cheap draw call per frame instead of a
per-cell Python loop.
"""

from __future__ import annotations

import numpy as np


def contour_segments(values: np.ndarray, xs: np.ndarray, ys: np.ndarray,
                     level: float = 0.5) -> np.ndarray:
    """Segments, shape (m, 2, 2) as [[x0, y0], [x1, y1]], where `values` (rows follow `ys`,
    columns `xs`) crosses `level`, linearly interpolated along each cell edge. A saddle cell
    (opposite corners on the same side) is split by the value at its centre."""
    v = np.asarray(values, dtype=np.float64) - level
    above = v > 0
    gx, gy = np.meshgrid(np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64))
    # Each cell's corners: a (r, c), b (r, c+1), c (r+1, c+1), d (r+1, c).
    corner = {
        "a": (slice(None, -1), slice(None, -1)), "b": (slice(None, -1), slice(1, None)),
        "c": (slice(1, None), slice(1, None)), "d": (slice(1, None), slice(None, -1)),
    }

    def edge(p: str, q: str) -> tuple[np.ndarray, np.ndarray]:
        vp, vq = v[corner[p]], v[corner[q]]
        crosses = above[corner[p]] != above[corner[q]]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(crosses, vp / (vp - vq), 0.0)
        x = gx[corner[p]] + t * (gx[corner[q]] - gx[corner[p]])
        y = gy[corner[p]] + t * (gy[corner[q]] - gy[corner[p]])
        return crosses, np.stack([x, y], axis=-1)

    # The four edges in order: bottom (a-b), right (b-c), top (d-c), left (a-d).
    masks, points = zip(*(edge(p, q) for p, q in (("a", "b"), ("b", "c"), ("d", "c"),
                                                   ("a", "d"))), strict=True)
    mask = np.stack(masks, axis=-1)  # (rows-1, cols-1, 4)
    pts = np.stack(points, axis=-2)  # (rows-1, cols-1, 4, 2)
    count = mask.sum(axis=-1)
    segments = []
    two = count == 2
    if two.any():
        # The two crossed edges of each such cell, in edge order.
        order = np.argsort(~mask[two], axis=-1, kind="stable")[:, :2]
        cell_pts = pts[two]
        segments.append(np.take_along_axis(cell_pts, order[:, :, None], axis=1))
    four = count == 4
    if four.any():
        centre = (v[corner["a"]] + v[corner["b"]] + v[corner["c"]] + v[corner["d"]])[four] / 4
        joined = (centre > 0) == above[corner["a"]][four]  # a's side reaches across to c
        cell_pts = pts[four]
        bottom, right, top, left = (cell_pts[:, i] for i in range(4))
        first = np.where(joined[:, None], np.stack([bottom, right], 1).reshape(-1, 4),
                         np.stack([bottom, left], 1).reshape(-1, 4))
        second = np.where(joined[:, None], np.stack([top, left], 1).reshape(-1, 4),
                          np.stack([right, top], 1).reshape(-1, 4))
        segments += [first.reshape(-1, 2, 2), second.reshape(-1, 2, 2)]
    if not segments:
        return np.zeros((0, 2, 2))
    return np.concatenate(segments).astype(np.float32)
