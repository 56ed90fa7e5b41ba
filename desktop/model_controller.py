"""Which model is loaded: the picker, the crash guards at start-up, recent models.

Two guards keep a model that crashed from being loaded again on its own: the load guard
(the app died while the model was loading) and the `crashed_model` setting (the model's
engine died while it ran: a reply, an inspection). Either way the user is told, and loading
it again is their call: a Restart action on the banner, or picking it in the list.

The picker lists the model library (bundled, imported, downloaded), sent by the Models tab's
worker whenever it changes, then files opened lately that are not in the library.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from core.api import ChatStore, GlassboxError, ModelInfo, RecentModels
from core.engine.load_guard import LoadGuard
from core.models.bundled import CHAT_MODEL_ID, NOTES, bundled_chat_models
from core.models.startup import startup_model
from core.settings import read, save, update
from desktop.engine_worker import EngineHandle
from desktop.remote_switch import is_remote
from desktop.store_worker import StoreClient
from ui.error_banner_view import ErrorBannerView
from ui.model_picker_view import ModelPickerView
from ui.status_view import StatusView

if TYPE_CHECKING:
    from core.api import ModelEntry

RESTART = "Restart"
LOAD_ANYWAY = "Load it"
LOAD_LOCAL = "Load the local model"


def remember_model(store: ChatStore, path: str, library: list[str]) -> list[str]:
    """Record `path` as the last model and at the front of the recent list (a store job);
    models in the library are listed from there, so they do not crowd the recent list."""
    models = read(store.settings, RecentModels).remembered(path, library)
    save(store.settings, models)
    return list(models.recent)


def chosen_default() -> str | None:
    """The path of the model the user made the default in the library, if they chose one
    other than the bundled fallback (a store-thread job: it reads GGUF headers)."""
    from core.api import ModelRegistry

    try:
        entry = ModelRegistry().default()
    except (GlassboxError, OSError):
        return None
    if entry is None or entry.source == "bundled" or entry.missing:
        return None
    return entry.path


def picker_label(entry: ModelEntry) -> str:
    """The model's one name (as in the library and the CLI), with what it is for: the bundled
    chat model reads "bundled:smollm2-135m-instruct (tiny demo model)"."""
    return f"{entry.label} ★" if entry.is_default else entry.label


def _bundled_label() -> str:
    # Until the library arrives, the bundled chat model stands in for it, under the same name.
    return f"{CHAT_MODEL_ID} ({NOTES[CHAT_MODEL_ID]})"


class ModelController(QObject):
    def __init__(self, store: StoreClient, engine: EngineHandle, picker: ModelPickerView,
                 status: StatusView, show_error: Callable[[str], None], home: Path,
                 parent: QObject | None = None, *, banner: ErrorBannerView | None = None) -> None:
        super().__init__(parent)
        self._banner = banner
        self._offered: str | None = None  # the model a banner action would load
        self._store = store
        self._engine = engine
        self._picker = picker
        self._status = status
        self._show_error = show_error
        self._guard = LoadGuard(home)
        self._bundled = [str(p) for p in bundled_chat_models()]
        # Until the library arrives from the Models worker, the bundled models stand in for it.
        self._library = [(_bundled_label(), p) for p in self._bundled]
        self._names = {p: CHAT_MODEL_ID for p in self._bundled}  # path -> library name
        self._recent: list[str] = []
        self._remote: list[tuple[str, str]] = []  # (label, "remote:NAME/MODEL")
        self._last_local: str | None = None  # what "Load the local model" loads
        self.model: ModelInfo | None = None
        self.loading: str | None = None
        picker.model_chosen.connect(self.load)
        worker = engine.worker
        worker.model_loaded.connect(self._on_loaded)
        worker.model_failed.connect(self._on_failed)
        worker.engine_crashed.connect(self._on_crashed)
        worker.model_crashed.connect(self._on_model_crashed)
        worker.needs_local_model.connect(self.offer_local)
        if banner is not None:
            banner.action_triggered.connect(self._on_banner_action)

    def start(self) -> None:
        self._picker.set_models(self._listed(), [])
        self._store.call(
            lambda s: (read(s.settings, RecentModels), chosen_default()),
            self._on_settings,
        )

    def set_library(self, entries: list[ModelEntry]) -> None:
        """The library changed (import, download, removal, new default): list it again."""
        # Only files that are there: a bundled model made on first use is loaded from the
        # Models tab (its Use in chat), since every picker of paths reads this list.
        self._library = [(picker_label(e), e.path) for e in entries
                         if not e.missing and Path(e.path).is_file()]
        self._names = {e.path: e.name for e in entries}
        self._picker.set_models(self._listed(), self._recent)
        if self.model is not None:
            self._status.set_model(self._name_of(self.model), self.model.n_ctx)

    def set_remote(self, entries: list[tuple[str, str]]) -> None:
        """The saved remote engines' models (label, "remote:NAME/MODEL"), listed after the
        local ones; choosing one sends the chat's replies to that server."""
        self._remote = list(entries)
        self._picker.set_models(self._listed(), self._recent)

    def _listed(self) -> list[tuple[str, str]]:
        return self._library + self._remote

    def _name_of(self, info: ModelInfo) -> str:
        """A model's library name when it has one (one name everywhere), else its file's;
        with its adapters and their scales after it, and its steering (a reply steered by a
        control vector should never pass for the plain model's)."""
        if is_remote(info.path):
            return info.path
        name = self._names.get(info.path, info.name)
        name += "".join(f" + {lora.name} ×{lora.scale:g}" for lora in info.loras)
        if info.control_vector is not None:
            name += f" · steered {info.control_vector[1]:+g}"
        return name

    def name_of_path(self, path: str) -> str:
        """The name the status bar gives the model at `path`: its library name, else its file's
        stem (as the engine names a file it loads). The Learn panels name models by this too."""
        if is_remote(path):
            return path  # "remote:NAME/MODEL": which server, and which of its models
        return self._names.get(path, Path(path).stem)

    def load(self, path: str, loras: Sequence[tuple[str, float]] = ()) -> None:
        """Load `path` for the chat, with LoRA adapters ((adapter file, scale) pairs) over it
        when given: the Fine-tune lab's "Use in chat"."""
        self.loading = path
        self._picker.set_loading(path)
        self._status.set_state("Loading model with its adapter…" if loras
                               else "Loading model…")
        self._engine.load(path, loras)

    def set_lora_scales(self, scales: dict[str, float]) -> None:
        """Change the loaded adapters' scales; the model stays loaded."""
        self._engine.set_lora_scales(scales)

    def _on_settings(self, result: tuple[RecentModels, str | None]) -> None:
        models, default = result
        last, engine_crash = models.last, models.crashed
        self._set_recent(list(models.recent))
        # A default the user chose in the library wins over the model used last.
        crashed = self._guard.crashed_while_loading()
        if crashed is not None:
            self._guard.end()
        choice = startup_model(default, last, self._bundled, crashed, engine_crash)
        if choice.action == "load" and choice.path is not None:
            self.load(choice.path)
            return
        self._status.set_state("No model loaded")
        if choice.action == "offer" and choice.path is not None:
            self._offer(choice.path, choice.message, LOAD_ANYWAY)
        else:
            self._show_error(choice.message)

    def _on_loaded(self, info: ModelInfo) -> None:
        self.model = info
        self.loading = None
        self._picker.set_loading(None)
        self._picker.set_current(info.path)
        self._status.set_model(self._name_of(info), info.n_ctx)
        self._status.set_state("Ready")
        if is_remote(info.path):
            return  # a server's model is not a file to load at start-up
        self._last_local = info.path
        library = [path for _label, path in self._library]
        self._store.call(lambda s: remember_model(s, info.path, library), self._set_recent)

    def _set_recent(self, recent: list[str]) -> None:
        self._recent = recent
        self._picker.set_models(self._listed(), recent)

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
            self._status.set_model(self._name_of(self.model), self.model.n_ctx)
            self._status.set_state("Ready")
        self._show_error(message)

    def _on_crashed(self, _message: str) -> None:
        self.model = None
        self._picker.set_current(None)
        self._status.set_model(None)
        self._status.set_state("Restarting the engine…")

    def _on_model_crashed(self, path: str, message: str) -> None:
        """The running model took the engine down: say so, remember it so the next launch
        does not load it on its own, and offer to load it again."""
        self.model = None
        self._picker.set_current(None)
        self._status.set_model(None)
        self._status.set_state("Engine stopped")
        if not path:
            self._show_error(message)
            return
        self._store.call(lambda s: update(s.settings, RecentModels, crashed=path))
        self._offer(path, message, RESTART)

    def offer_local(self, message: str) -> None:
        """A Learn view needs the model's insides, which a remote engine does not send: say
        so, with a button that loads the local model used last (else the bundled one)."""
        path = self._last_local or (self._bundled[0] if self._bundled else None)
        if path is None:
            self._show_error(message)
            return
        self._offer(path, message, LOAD_LOCAL)

    def _offer(self, path: str, message: str, action: str) -> None:
        banner = self._find_banner()
        if banner is None:
            self._show_error(f"{message} Pick {Path(path).name} in the model list to load it "
                             "again.")
            return
        self._offered = path
        banner.show_message(message, action=action)

    def _find_banner(self) -> ErrorBannerView | None:
        # Wired by the window; else the window's own banner (other panels have theirs too).
        if self._banner is None:
            found = getattr(self._picker.window(), "error_banner", None)
            if isinstance(found, ErrorBannerView):
                self._banner = found
                found.action_triggered.connect(self._on_banner_action)
        return self._banner

    def _on_banner_action(self, action: str) -> None:
        path, self._offered = self._offered, None
        if action in (RESTART, LOAD_ANYWAY, LOAD_LOCAL) and path is not None:
            self.load(path)
