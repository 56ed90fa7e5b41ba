"""Helpers for the Learn panel tests (imported by name, as tests/gui does with guitools)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QWidget

from ui.theme import DARK, palette_for

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"

Shoot = Callable[[QWidget, str], Path]


def dark_palette() -> QPalette:
    """The app's own dark palette (ui/theme.py), as a person with a dark desktop sees it."""
    return palette_for(DARK)
