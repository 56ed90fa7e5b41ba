"""The boundary playground's two class colours and the diverging colour map between them.

Class 0 is orange, class 1 blue (Okabe-Ito, colour-blind friendly, as on the other maps);
a probability or an activation runs from orange through white to blue.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QColor, QImage

from ui.learn.embedding_maps_plot import CATEGORY_COLORS

CLASS_COLORS = (CATEGORY_COLORS[1], CATEGORY_COLORS[0])  # orange, blue
CLASS_NAMES = ("orange", "blue")


def diverging_lut() -> Any:
    """256 x 3 uint8: orange at 0, white at 127.5, blue at 255 (softened, so points on top
    stay visible)."""
    import numpy as np

    lo, hi = (np.array([QColor(c).red(), QColor(c).green(), QColor(c).blue()], dtype=np.float64)
              for c in CLASS_COLORS)
    white = np.array([255.0, 255.0, 255.0])
    t = np.linspace(-1.0, 1.0, 256)[:, None]
    ends = np.where(t < 0, lo, hi)
    mixed = white + np.abs(t) * 0.75 * (ends - white)
    return mixed.round().astype(np.uint8)


def to_image(values: Any, lo: float, hi: float, lut: Any) -> QImage:
    """An RGB QImage of a 2D array (row 0 at the bottom, as on a plot), `lo`..`hi` mapped
    across the colour map."""
    import numpy as np

    span = max(hi - lo, 1e-9)
    index = np.clip((np.asarray(values) - lo) / span * 255.0, 0, 255).astype(np.uint8)
    rgb = np.ascontiguousarray(lut[index[::-1]])
    h, w = index.shape
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
