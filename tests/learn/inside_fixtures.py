"""A Learn panel wired to the real engine worker (as the window wires it), for the Attention,
Logit lens and Anatomy tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from qt_waits import waiting_for

from core.config import data_home, database_path
from core.engine.types import ChatMessage
from core.models.bundled import default_chat_model
from desktop.engine_worker import EngineHandle
from desktop.learn_controller import LearnController
from ui.learn.learn_panel import LearnPanel

TIMEOUT_MS = 120_000  # two busy cores, a fresh engine child


@dataclass
class Wired:
    panel: LearnPanel
    engine: EngineHandle
    controller: LearnController
    errors: list[str] = field(default_factory=list)
    conversation: list[ChatMessage] = field(default_factory=list)


def wire(qtbot: QtBot, load: bool = True) -> Iterator[Wired]:
    panel = LearnPanel()
    qtbot.addWidget(panel)
    engine = EngineHandle(database_path(), data_home())
    errors: list[str] = []
    conversation: list[ChatMessage] = []
    controller = LearnController(engine, panel, errors.append, lambda: list(conversation))
    wired = Wired(panel, engine, controller, errors, conversation)
    engine.start()
    try:
        if load:
            with waiting_for(qtbot, engine.worker.model_loaded, timeout=TIMEOUT_MS):
                engine.load(str(default_chat_model()))
        yield wired
    finally:
        controller.inside.wait_for_grid()
        engine.shutdown()
        QApplication.processEvents()
