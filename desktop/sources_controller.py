"""Documents in chat: which collections a chat answers from, and the Sources pane.

Keeps the groundings of the open chat's replies (from the store when a chat opens, from the
engine as a reply is grounded), so a click on a citation shows its passage at once. When the
bundled demo model is the one answering from documents (or starting a chat), a bar over the
chat says so and offers the best starter model that fits this computer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtWidgets import QWidget

from core.api import Grounding, ModelInfo
from core.models.bundled import CHAT_MODEL_ID, DEMO_NOTE, is_demo_model
from core.models.starter import StarterModel
from desktop.engine_worker import EngineHandle
from desktop.open_document import open_document
from desktop.store_worker import StoreClient
from ui.chat_view import ChatView
from ui.citation_links import parse_cite_url
from ui.collections_button import CollectionsButton
from ui.sources_panel import SourcesPanel
from ui.status_view import StatusView

if TYPE_CHECKING:
    from core.api import ChatSummary, StoredMessage


@dataclass(frozen=True)
class SourcesViews:
    collections: CollectionsButton
    sources: SourcesPanel
    sources_container: QWidget  # shown when a citation is clicked
    chat_view: ChatView
    status: StatusView


def _grounding(message: StoredMessage) -> Grounding | None:
    if not message.grounding:
        return None
    try:
        return Grounding.from_json(message.grounding)
    except (KeyError, TypeError, ValueError):  # written by another version: show the reply only
        return None


def _suggestion() -> tuple[StarterModel | None, bool]:
    """The best starter model for this computer, and whether the library has it already (a
    store-thread job: it reads the model list)."""
    from core.api import ModelRegistry
    from core.models.starter import suggest_for_this_computer

    starter = suggest_for_this_computer()
    if starter is None:
        return None, False
    have = any(e.repo_id == starter.repo_id and e.filename == starter.filename and not e.missing
               for e in ModelRegistry().models())
    return starter, have


class SourcesController(QObject):
    # The model hint's button: download this starter model (repo id, file name).
    download_requested = Signal(str, str)

    def __init__(self, store: StoreClient, engine: EngineHandle, views: SourcesViews,
                 show_error: Callable[[str], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self.views = views
        self._show_error = show_error
        self._chat_id: int | None = None
        self._groundings: dict[int, Grounding] = {}  # reply message id -> how it was grounded
        self._chosen: list[str] = []  # the open chat's collections
        self._empty_chat = False
        self._demo = False  # the loaded model is the bundled demo model
        self._hint_dismissed = False  # for this session
        self._starter: tuple[StarterModel | None, bool] = (None, False)
        views.collections.chosen_changed.connect(self.choose_collections)
        views.chat_view.link_activated.connect(self._on_link)
        views.chat_view.model_hint.download_requested.connect(self._on_download)
        views.chat_view.model_hint.dismissed.connect(self._on_hint_dismissed)
        views.sources.open_requested.connect(self._open_file)
        engine.worker.grounded.connect(self._on_grounded)
        engine.worker.searching.connect(self._on_searching)
        engine.worker.model_loaded.connect(self._on_model_loaded)
        self._suggestion_asked = False

    # -- from the chat and the documents worker ----------------------------------------------
    def on_chat_opened(self, chat: ChatSummary, messages: Sequence[StoredMessage]) -> None:
        self._chat_id = chat.id
        self.views.collections.set_chosen(chat.collections)
        self._groundings = {m.id: g for m in messages if (g := _grounding(m)) is not None}
        latest = max(self._groundings, default=None)
        self.views.sources.show_grounding(self._groundings.get(latest) if latest else None)
        self._chosen = list(chat.collections)
        self._empty_chat = not messages
        self._update_hint()

    def latest_grounding(self) -> Grounding | None:
        """How the open chat's newest grounded reply was grounded (None: none was)."""
        latest = max(self._groundings, default=None)
        return self._groundings[latest] if latest is not None else None

    def on_collections(self, collections: Sequence[Any]) -> None:
        """The documents worker's list changed (CollectionInfo items)."""
        self.views.collections.set_available([c.name for c in collections])

    def choose_collections(self, names: list[str]) -> None:
        chat_id = self._chat_id
        if chat_id is None:
            return
        self._chosen = list(names)
        self._update_hint()
        self._store.call(lambda s: s.set_chat_collections(chat_id, names))

    # -- from the engine --------------------------------------------------------------------
    def _on_searching(self, chat_id: int) -> None:
        if chat_id == self._chat_id:
            self.views.status.set_state("Searching your documents…")

    def _on_grounded(self, chat_id: int, reply_id: int, grounding: Grounding) -> None:
        if chat_id != self._chat_id:
            return
        self._empty_chat = False
        self._groundings[reply_id] = grounding
        self.views.chat_view.set_reply_sources(reply_id, grounding)
        self.views.sources.show_grounding(grounding)
        self.views.status.set_state("Generating…")

    # -- from the views ---------------------------------------------------------------------
    def _on_link(self, url: QUrl) -> None:
        target = parse_cite_url(url)
        if target is None:
            return
        message_id, number = target
        grounding = self._groundings.get(message_id)
        if grounding is None:
            return
        self.views.sources_container.show()
        if self.views.sources.grounding is not grounding:
            self.views.sources.show_grounding(grounding, number)
        else:
            self.views.sources.select_source(number)

    def _open_file(self, path: str, page: object) -> None:
        if not open_document(path, page if isinstance(page, int) else None):
            where = f" (the passage is on page {page})" if page else ""
            self._show_error(f"{path} could not be opened: it was moved or deleted, or no "
                             f"application opens it{where}.")

    # -- the demo model's hint --------------------------------------------------------------
    def _on_model_loaded(self, info: ModelInfo) -> None:
        self._demo = is_demo_model(info.path)
        if self._demo and not self._suggestion_asked:  # once, when it is first needed
            self._suggestion_asked = True
            self._store.call(lambda _store: _suggestion(), self._on_suggestion)
        self._update_hint()

    def _on_suggestion(self, result: tuple[StarterModel | None, bool]) -> None:
        self._starter = result
        self._update_hint()

    def _on_hint_dismissed(self) -> None:
        self._hint_dismissed = True

    def _on_download(self, repo_id: str, filename: str) -> None:
        self._hint_dismissed = True
        self.download_requested.emit(repo_id, filename)

    def _update_hint(self) -> None:
        """Shown while the demo model answers this chat from documents, or starts it."""
        hint = self.views.chat_view.model_hint
        starter, have = self._starter
        if not self._demo or self._hint_dismissed or starter is None or not (
                self._chosen or self._empty_chat):
            hint.hide()
            return
        if self._chosen:
            why = (f"This chat answers from your documents with {CHAT_MODEL_ID}, a {DEMO_NOTE} "
                   "(135M parameters): it often cites passages that do not exist or answers "
                   "from memory.")
        else:
            why = (f"You are chatting with {CHAT_MODEL_ID}, a {DEMO_NOTE} (135M parameters): "
                   "fast, but often wrong.")
        if have:
            hint.show_hint(f"{why} You have {starter.title}: pick it in the Model list above.")
            return
        hint.show_hint(f"{why} The best starter model that fits this computer is "
                       f"{starter.title} ({starter.parameters} parameters, {starter.note}).",
                       f"Download {starter.title} ({starter.approx_size})",
                       (starter.repo_id, starter.filename))
