"""Shared fixtures: every test gets its own data folder; engine tests share one loaded model."""

from __future__ import annotations

import functools
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.engine.client import EngineClient
from core.models.bundled import default_chat_model
from desktop.gui_collector import collect_if_due


@pytest.fixture(scope="session", autouse=True)
def collect_on_the_main_thread() -> Iterator[None]:
    """As the app does (desktop/gui_collector.py): no automatic collection, which could run in
    a worker thread and finalize widgets there; the main thread collects between tests."""
    was_enabled = gc.isenabled()
    gc.disable()
    yield
    if was_enabled:
        gc.enable()


# pytest-qt waits 5 s for a condition or a signal unless told otherwise. On a loaded two-core
# machine (CI, or a package build beside the suite) a worker's queue can take longer than that
# to reach a job: a full-suite run failed on a "New collection" that waited behind the watcher's
# rescan. A wait is for an event, so a longer ceiling passes as fast as before and only reports
# a real failure later. Waits that name their own timeout keep it.
PATIENT_WAIT_MS = 30_000
_WAITS = ("waitUntil", "waitSignal", "waitSignals", "waitExposed", "waitActive", "waitCallback")


@pytest.fixture(scope="session", autouse=True)
def patient_qt_waits() -> Iterator[None]:
    from pytestqt.qtbot import QtBot

    originals = {name: getattr(QtBot, name) for name in _WAITS}

    def patient(original: Any) -> Any:
        @functools.wraps(original)
        def wait(self: QtBot, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", PATIENT_WAIT_MS)
            return original(self, *args, **kwargs)
        return wait

    for name, original in originals.items():
        setattr(QtBot, name, patient(original))
    yield
    for name, original in originals.items():
        setattr(QtBot, name, original)


@pytest.fixture(autouse=True)
def collect_between_tests() -> Iterator[None]:
    yield
    collect_if_due()


@pytest.fixture(autouse=True)
def glassbox_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point GLASSBOX_HOME at a fresh folder so no test touches a real user's data."""
    home = tmp_path / "glassbox-home"
    monkeypatch.setenv("GLASSBOX_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def model_path() -> Path:
    return default_chat_model()


@pytest.fixture(scope="session")
def engine(model_path: Path) -> Iterator[EngineClient]:
    """The real bundled model in a real engine child, shared by tests that do not break it."""
    client = EngineClient()
    client.load(model_path, n_ctx=2048)
    yield client
    client.close()


@pytest.fixture
def own_engine(model_path: Path) -> Iterator[EngineClient]:
    """An engine a test may kill or reload without disturbing the shared one."""
    client = EngineClient()
    client.load(model_path, n_ctx=1024)
    yield client
    client.close()
