"""Which model is loaded: the picker, the crash guard at start-up, recent models."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from core.engine.load_guard import LoadGuard
from core.engine.types import ModelInfo
from core.models.bundled import bundled_chat_models
from core.store import ChatStore
from desktop.engine_worker import EngineHandle
from desktop.store_worker import StoreClient
from ui.model_picker_view import ModelPickerView
from ui.status_view import StatusView

MAX_RECENT_MODELS = 8


def remember_model(store: ChatStore, path: str, bundled: list[str]) -> list[str]:
    """Record `path` as the last model and at the front of the recent list (a store job)."""
    store.settings.set("last_model", path)
    recent = [p for p in store.settings.get("recent_models", []) if isinstance(p, str)]
    if path not in bundled:
        recent = [path] + [p for p in recent if p != path]
    recent = recent[:MAX_RECENT_MODELS]
    store.settings.set("recent_models", recent)
    return recent


class ModelController(QObject):
    def __init__(self, store: StoreClient, engine: EngineHandle, picker: ModelPickerView,
                 status: StatusView, show_error: Callable[[str], None], home: Path,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._engine = engine
        self._picker = picker
        self._status = status
        self._show_error = show_error
        self._guard = LoadGuard(home)
        self._bundled = [str(p) for p in bundled_chat_models()]
        self.model: ModelInfo | None = None
        self.loading: str | None = None
        picker.model_chosen.connect(self.load)
        worker = engine.worker
        worker.model_loaded.connect(self._on_loaded)
        worker.model_failed.connect(self._on_failed)
        worker.engine_crashed.connect(self._on_crashed)

    def start(self) -> None:
        self._picker.set_models(self._bundled, [])
        self._store.call(
            lambda s: (s.settings.get("last_model"), s.settings.get("recent_models", [])),
            self._on_settings,
        )

    def load(self, path: str) -> None:
        self.loading = path
        self._picker.set_loading(path)
        self._status.set_state("Loading model…")
        self._engine.load(path)

    def _on_settings(self, result: tuple[Any, Any]) -> None:
        last, recent = result
        recent = [p for p in recent if isinstance(p, str)] if isinstance(recent, list) else []
        self._picker.set_models(self._bundled, recent)
        auto = self._auto_model(last)
        crashed = self._guard.crashed_while_loading()
        if crashed is not None:
            self._guard.end()
        if auto is None:
            self._status.set_state("No model loaded")
            self._show_error("No model is installed. Choose “Open GGUF file…” to load one.")
        elif crashed is not None and _same_file(crashed, auto):
            self._status.set_state("No model loaded")
            self._show_error(
                f"Glassbox closed while loading {Path(auto).name} last time, so it was not "
                "loaded again. Pick it in the model list to try again."
            )
        else:
            self.load(auto)

    def _auto_model(self, last: Any) -> str | None:
        if isinstance(last, str) and Path(last).is_file():
            return last
        return self._bundled[0] if self._bundled else None

    def _on_loaded(self, info: ModelInfo) -> None:
        self.model = info
        self.loading = None
        self._picker.set_loading(None)
        self._picker.set_current(info.path)
        self._status.set_model(info.name, info.n_ctx)
        self._status.set_state("Ready")
        bundled = self._bundled
        self._store.call(lambda s: remember_model(s, info.path, bundled),
                         lambda recent: self._picker.set_models(bundled, recent))

    def _on_failed(self, message: str) -> None:
        # The engine keeps (or restores) the model it had, so the picker goes back to it.
        self.loading = None
        self._picker.set_loading(None)
        if self.model is None:
            self._picker.set_current(None)
            self._status.set_model(None)
            self._status.set_state("No model loaded")
        else:
            self._picker.set_current(self.model.path)
            self._status.set_model(self.model.name, self.model.n_ctx)
            self._status.set_state("Ready")
        self._show_error(message)

    def _on_crashed(self, _message: str) -> None:
        self.model = None
        self._picker.set_current(None)
        self._status.set_model(None)
        self._status.set_state("Restarting the engine…")


def _same_file(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return a == b
