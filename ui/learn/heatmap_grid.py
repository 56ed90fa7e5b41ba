"""Pixels for heatmaps: a colour lookup table, and every head of a capture as one image.

Plain numpy (no widgets): the head grid is built off the GUI thread by the Learn controller's
worker and painted as one image, so 270 thumbnails cost the window one draw call.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from PySide6.QtGui import QImage

GAMMA = 0.5  # colour follows weight ** 0.5: small weights stay visible next to a strong sink


@cache
def colormap_lut() -> np.ndarray:
    """256 x 3 uint8 viridis: dark for 0, yellow for 1; readable on light and dark themes."""
    import pyqtgraph as pg

    lut = pg.colormap.get("viridis").getLookupTable(0.0, 1.0, 256, alpha=False)
    return np.ascontiguousarray(lut[:, :3], dtype=np.uint8)


def scaled(weights: np.ndarray) -> np.ndarray:
    """Attention weights in [0, 1] as shown: the gamma makes weak patterns visible."""
    return np.sqrt(np.clip(weights, 0.0, 1.0, dtype=np.float32))


def _shrink(values: np.ndarray, axis: int, size: int) -> np.ndarray:
    """`values` resampled to `size` along `axis`: the maximum of each block when there are more
    values than pixels (one sharp weight stays visible), the nearest value when fewer."""
    n = values.shape[axis]
    starts = (np.arange(size) * n) // size
    out = np.take(values, starts, axis=axis)
    if n <= size:
        return out
    # A few strided gathers and maxima: several times faster than np.maximum.reduceat here.
    ends = (np.arange(1, size + 1) * n) // size
    for step in range(1, int((ends - starts).max())):
        np.maximum(out, np.take(values, np.minimum(starts + step, ends - 1), axis=axis), out=out)
    return out


def head_grid_image(attention: np.ndarray, cell: int, gap: int,
                    background: tuple[int, int, int]) -> QImage:
    """One picture of all heads: `attention` [layer][head][query][key] -> layers as rows of
    cell x cell thumbnails, heads as columns, `gap` pixels of `background` between them."""
    n_layer, n_head = attention.shape[:2]
    pitch = cell + gap
    canvas = np.empty((n_layer * pitch + gap, n_head * pitch + gap, 3), dtype=np.uint8)
    canvas[:] = background
    # The canvas seen as [layer][y][head][x]: each layer's thumbnails go in with one strided
    # assignment. A layer at a time keeps each numpy call short, so the GUI thread gets the
    # interpreter back often while this runs on a pool thread.
    body = canvas[gap:, gap:].reshape(n_layer, pitch, n_head, pitch, 3)
    lut = colormap_lut()
    for layer in range(n_layer):
        thumbs = _shrink(_shrink(attention[layer], 1, cell), 2, cell)  # [head][cell][cell]
        indices = (scaled(thumbs) * 255.0 + 0.5).astype(np.uint8)
        body[layer, :cell, :, :cell] = lut[indices].transpose(1, 0, 2, 3)
    height, width = canvas.shape[:2]
    image = QImage(canvas.data, width, height, width * 3, QImage.Format.Format_RGB888)
    return image.copy()  # owns its pixels: the numpy canvas can go
