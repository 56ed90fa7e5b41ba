"""Colours for token chips, from the widget's palette so they read in light and dark themes."""

from __future__ import annotations

import math

from PySide6.QtGui import QColor, QPalette

from ui.message_render import is_dark, mix

_CHIP_A = QColor("#3d8bfd")  # blue
_CHIP_B = QColor("#20c997")  # teal
_SPECIAL = QColor("#b565f0")  # violet
_WARM = QColor("#ff6a1a")  # orange-red: surprise
FULL_SURPRISE_BITS = 10.0  # shading is strongest from here (p <= 1/1024)


def readable_on(background: QColor) -> QColor:
    """Black or white, whichever reads better on `background`."""
    r, g, b = background.redF(), background.greenF(), background.blueF()
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return QColor("#000000") if luminance > 0.5 else QColor("#ffffff")


def base(palette: QPalette) -> QColor:
    return palette.color(QPalette.ColorRole.Base)


def muted(palette: QPalette) -> QColor:
    """Quieter text that still reads (WCAG AA, 4.5:1, in both palettes; 0.45 was 3.9:1)."""
    return mix(palette.color(QPalette.ColorRole.Text), base(palette), 0.3)


def chip_colors(palette: QPalette) -> tuple[QColor, QColor, QColor]:
    """Two alternating chip backgrounds and one for special tokens."""
    amount = 0.38 if is_dark(palette) else 0.22
    back = base(palette)
    return mix(back, _CHIP_A, amount), mix(back, _CHIP_B, amount), mix(back, _SPECIAL, amount)


def surprise_strength(prob: float) -> float:
    """0 (expected) .. 1 (very surprising), from the surprisal in bits, -log2 p."""
    bits = -math.log2(max(prob, 1e-30))
    return max(0.0, min(1.0, bits / FULL_SURPRISE_BITS))


def surprise_color(palette: QPalette, prob: float) -> QColor:
    """Lower probability: a stronger warm colour over the base."""
    return mix(base(palette), _WARM, 0.08 + 0.82 * surprise_strength(prob))


def confidence_color(palette: QPalette, prob: float) -> QColor:
    """A cool tint whose strength follows the probability (for kept candidates)."""
    return mix(base(palette), _CHIP_A, 0.1 + 0.5 * max(0.0, min(1.0, prob)))


def warm(palette: QPalette, amount: float = 0.35) -> QColor:
    return mix(base(palette), _WARM, amount)


def css(color: QColor) -> str:
    return color.name(QColor.NameFormat.HexRgb)


def mix_alpha(color: QColor, alpha: int) -> QColor:
    """`color` with opacity `alpha` (0..255), for fills over whatever is below."""
    out = QColor(color)
    out.setAlpha(alpha)
    return out
