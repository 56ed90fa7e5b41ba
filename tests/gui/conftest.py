"""GUI fixtures: real windows on the real engine and model, in a throw-away GLASSBOX_HOME.

tests/conftest.py points GLASSBOX_HOME at a fresh folder for every test (autouse). Every window
opened here is closed at the end of its test, and the test fails if a worker thread or the
engine process outlived it.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from guitools import FAST_SAMPLING, TEST_N_CTX, OpenWindow, wait_until_ready, write_settings
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.rag.sample import STATE_KEY as SAMPLE_STATE_KEY
from desktop.main_window import MainWindow
from ui.theme import apply_theme

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session", autouse=True)
def fusion_style(qapp: QApplication) -> None:
    qapp.setStyle("Fusion")  # as run_app does: the style, the light palette and
    apply_theme(qapp, dark=False)  # style sheet, so screenshots look like the app


@pytest.fixture(autouse=True)
def no_sample_guide(glassbox_home: Path) -> None:
    """Mark the first-run guide as indexed already: indexing it would load the embedding
    model in every window. The test of the first run sets this back to None."""
    write_settings(**{SAMPLE_STATE_KEY: "done"})


@pytest.fixture(autouse=True)
def no_auto_summaries(glassbox_home: Path) -> None:
    """Turn off summaries after indexing: they would start the chat model in every test that
    indexes. tests/gui/test_documents_summaries.py turns them back on."""
    glassbox_home.mkdir(parents=True, exist_ok=True)
    settings = QSettings(str(glassbox_home / "window.ini"), QSettings.Format.IniFormat)
    settings.setValue("documents/auto_summaries", False)
    settings.sync()


@pytest.fixture
def fast_settings(glassbox_home: Path) -> None:
    write_settings(sampling=FAST_SAMPLING, n_ctx=TEST_N_CTX)


@pytest.fixture
def open_window(qtbot: QtBot, fast_settings: None) -> Iterator[OpenWindow]:
    """Open a MainWindow like run_app does; by default wait until a model and a chat are up."""
    windows: list[MainWindow] = []
    threads_before = set(threading.enumerate())
    # Engines other tests share (a session fixture) may already run; only ours must end.
    children_before = set(multiprocessing.active_children())

    def _open(wait_ready: bool = True) -> MainWindow:
        window = MainWindow()
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        window.start()
        windows.append(window)
        if wait_ready:
            wait_until_ready(qtbot, window)
        return window

    yield _open
    for window in windows:
        window.close()
    for window in windows:
        running = [t.objectName() for t in window.threads() if t.isRunning()]
        assert not running, f"threads left running: {running}"
    leftover_children = set(multiprocessing.active_children()) - children_before
    assert not leftover_children, "the engine process outlived its window"
    # A QThread that made a Python thread (the folder watcher's) stays listed as a
    # _DummyThread forever; the QThreads themselves were checked above.
    leftover = [t for t in set(threading.enumerate()) - threads_before
                if t.is_alive() and not isinstance(t, threading._DummyThread)]
    assert not leftover, f"Python threads left running: {leftover}"
