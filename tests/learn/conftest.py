"""Learn panel fixtures: real views from the real bundled model, and screenshots to look at."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from learntools import SCREENSHOTS, Shoot
from PySide6.QtWidgets import QApplication, QWidget

import ui  # noqa: F401  (the PySide6 reference-count work-around, before any widget)
from core.engine.client import EngineClient
from core.models.bundled import default_chat_model
from ui.theme import apply_theme

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session", autouse=True)
def fusion_style(qapp: QApplication) -> None:
    qapp.setStyle("Fusion")  # as run_app does: the style, the light palette and
    apply_theme(qapp, dark=False)  # style sheet, so screenshots look like the app


@pytest.fixture(scope="module")
def learn_engine() -> Iterator[EngineClient]:
    """The bundled model in its own engine child, for this module's real views."""
    client = EngineClient()
    client.load(default_chat_model(), n_ctx=1024)
    yield client
    client.close()


@pytest.fixture
def shoot(qapp: QApplication) -> Shoot:
    """Save `widget` as screenshots/learn-NAME.png (shown at 1100x720)."""

    def _shoot(widget: QWidget, name: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        widget.resize(1100, 720)
        widget.show()
        qapp.processEvents()
        path = SCREENSHOTS / f"learn-{name}.png"
        assert widget.grab().save(str(path))
        return path

    return _shoot
