"""Connects the Documents panel to the documents worker; keeps the selection across refreshes.

Other parts of the window (the chat's collection picker) listen to `collections_changed`.
After an index run, summaries are asked for (unless turned off): the summaries worker writes
them for the documents that lack one, and gives way to the next index request. The two can
overlap (a summary run asked for before the next queued index run starts): the progress area
then shows the index run, and the summary run again once it ends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings

from core.api import data_home
from desktop.documents_worker import DocumentsHandle, IndexOutcome
from desktop.library_worker import LibraryFactory
from desktop.summaries_worker import SummaryOutcome
from ui.documents_panel import DocumentsPanel

if TYPE_CHECKING:  # numpy and SQLite stay off the start path: only types are needed
    from core.api import CollectionInfo, DocumentInfo, DocumentSummary, SummaryProgress

if TYPE_CHECKING:
    from core.api import IndexProgress  # the library loads on the worker thread

# The choice lives beside the window's geometry (a small ini file, not the database: the GUI
# thread runs no query).
_AUTO_KEY = "documents/auto_summaries"


class DocumentsController(QObject):
    def __init__(self, panel: DocumentsPanel, show_error: Callable[[str], None],
                 parent: QObject | None = None, factory: LibraryFactory | None = None) -> None:
        super().__init__(parent)
        self._panel = panel
        self._show_error = show_error
        self.handle = DocumentsHandle(factory, self)
        self.worker_thread = self.handle.worker_thread
        self.collections_changed = self.handle.collections_changed
        self.current: str | None = None  # the selected collection, kept across refreshes
        # A collection asked for and selected, which the worker has not listed yet: a list sent
        # before it made it (the end of an index run, say) must not take the selection away.
        self._creating: str | None = None
        self.collections: list[CollectionInfo] = []
        self.indexing: str | None = None  # the collection being indexed now
        self.last_outcome: IndexOutcome | None = None
        self.summarizing: str | None = None  # the collection being summarized now
        self._summaries_shown = False  # the progress area shows that summary run
        self.last_summary_outcome: SummaryOutcome | None = None
        self.ready = False  # the first list of collections has arrived
        # An automatic run that failed (no model, say) is not tried after every index run
        # again, repeating its message: a Summarize that works turns them back on.
        self._auto_failed = False
        self._prefs = QSettings(str(data_home() / "window.ini"), QSettings.Format.IniFormat)
        self.auto_summaries = _as_bool(self._prefs.value(_AUTO_KEY, True))
        panel.set_auto_summaries(self.auto_summaries)
        handle = self.handle
        handle.collections_changed.connect(self._on_collections)
        handle.documents_changed.connect(self._on_documents)
        handle.indexing_started.connect(self._on_indexing_started)
        handle.progress.connect(self._on_progress)
        handle.finished.connect(self._on_finished)
        handle.errored.connect(self._on_error)
        handle.summaries_changed.connect(self._on_summaries)
        handle.summarizing_started.connect(self._on_summarizing_started)
        handle.summary_progress.connect(self._on_summary_progress)
        handle.summarizing_finished.connect(self._on_summarizing_finished)
        panel.collection_selected.connect(self._on_selected)
        panel.create_requested.connect(self._on_create)
        panel.add_paths_requested.connect(self._on_add)
        panel.remove_documents_requested.connect(self._on_remove_documents)
        panel.remove_collection_requested.connect(self._on_remove_collection)
        panel.reindex_requested.connect(handle.index)
        panel.retry_failed_requested.connect(handle.retry_failed)
        panel.cancel_requested.connect(handle.cancel)
        panel.summarize_requested.connect(handle.summarize)
        panel.auto_summaries_toggled.connect(self._on_auto_toggled)

    def start(self) -> None:
        self.handle.start()

    def stop(self) -> None:
        self.handle.shutdown()

    @property
    def busy(self) -> bool:
        """Indexing now (a summary run in the background does not count)."""
        return self.indexing is not None

    # -- intents from the panel -------------------------------------------------------------
    def _on_selected(self, name: str) -> None:
        self.current = name
        self.handle.refresh(name)

    def _on_create(self, name: str, paths: list[str]) -> None:
        name = name.strip()  # as the library names it
        self.current = self._creating = name  # selected as soon as the worker lists it
        if paths:
            self.handle.add_paths(name, paths)
        else:
            self.handle.create_collection(name)

    def _on_add(self, name: str, paths: list[str]) -> None:
        self.handle.add_paths(name, paths)

    def _on_remove_documents(self, name: str, paths: list[str]) -> None:
        if self.indexing == name:
            # The run would hold the removal until it ends; stop it and go on afterwards.
            self.handle.cancel()
            self.handle.remove_documents(name, paths)
            self.handle.index(name)
        else:
            self.handle.remove_documents(name, paths)
        self._resume_summaries(removed=None)

    def _on_auto_toggled(self, enabled: bool) -> None:
        self.auto_summaries = enabled
        self._prefs.setValue(_AUTO_KEY, enabled)
        self._prefs.sync()

    def _on_remove_collection(self, name: str) -> None:
        if self.indexing == name:
            self.handle.cancel()
        self.handle.remove_collection(name)
        self._resume_summaries(removed=name)

    def _resume_summaries(self, removed: str | None) -> None:
        """A removal stops the summary run in progress (it gives way to any change); no index
        run follows to ask for it again, so go on with it here after the removal, unless its
        collection is the one removed. Its documents still lacking a summary are written."""
        going = self.summarizing
        if going is not None and going != removed:
            self.handle.summarize(going, automatic=True)

    # -- news from the worker ---------------------------------------------------------------
    def _on_error(self, message: str) -> None:
        # A collection that could not be made will never be listed: the next list may
        # select another one.
        self._creating = None
        self._show_error(message)

    def _on_collections(self, collections: list[CollectionInfo]) -> None:
        if not self.ready:  # at start: collections chunked by older rules are re-made
            for info in collections:
                if info.outdated:
                    self.handle.index(info.name)
        self.collections = collections
        self.ready = True
        names = [c.name for c in collections]
        if self._creating in names:
            self._creating = None
        if self.current not in names and (self._creating is None or self.current != self._creating):
            self.current = names[0] if names else None
            if self.current is not None:
                self.handle.refresh(self.current)  # its documents
        self._panel.set_collections(collections, self.current)

    def _on_documents(self, name: str, documents: list[DocumentInfo]) -> None:
        if name == self.current:
            self._panel.set_documents(documents)

    def _on_indexing_started(self, name: str) -> None:
        self.indexing = name
        self._summaries_shown = False
        self._panel.progress.begin(name)

    def _on_progress(self, event: IndexProgress) -> None:
        self._panel.progress.update_progress(event.files_done, event.files_total,
                                             event.chunks_done, event.eta_s, event.path)
        self._panel.set_active_document(event.path if event.stage == "embedding" else None)

    def _on_finished(self, outcome: IndexOutcome) -> None:
        self.indexing = None
        self.last_outcome = outcome
        self._panel.set_active_document(None)
        self._panel.progress.end(outcome.collection, outcome.indexed, outcome.skipped,
                                 outcome.failed, outcome.chunks, outcome.cancelled,
                                 outcome.elapsed_s)
        if self.auto_summaries and not outcome.cancelled and not self._auto_failed:
            # Also after a run that found nothing new: it picks up a summary run that gave
            # way to it. The worker starts no model when every document has a summary.
            self.handle.summarize(outcome.collection, automatic=True)

    def _on_summaries(self, name: str, summaries: dict[str, DocumentSummary]) -> None:
        if name == self.current:
            self._panel.set_summaries({path: s.summary for path, s in summaries.items()})

    def _on_summarizing_started(self, name: str) -> None:
        self.summarizing = name
        self._summaries_shown = False
        if self.indexing is None:  # an index run keeps the progress area until it ends
            self._show_summaries()

    def _on_summary_progress(self, event: SummaryProgress) -> None:
        if self.indexing is None:
            self._show_summaries()
            self._panel.progress.update_summaries(event.done, event.total, event.eta_s,
                                                  event.path)
        if event.stage == "summarized" and event.path and event.summary \
                and self.summarizing == self.current:
            self._panel.add_summary(event.path, event.summary)

    def _on_summarizing_finished(self, outcome: SummaryOutcome) -> None:
        self.summarizing = None
        self.last_summary_outcome = outcome
        if outcome.automatic or not outcome.error:
            self._auto_failed = outcome.error
        if self.indexing is None:
            self._panel.progress.end_summaries(outcome.collection, outcome.summarized,
                                               outcome.failed, outcome.total,
                                               outcome.cancelled, outcome.error,
                                               outcome.elapsed_s)

    def _show_summaries(self) -> None:
        """The summary run in the progress area (again, after an index run took it)."""
        if not self._summaries_shown and self.summarizing is not None:
            self._panel.progress.begin_summaries(self.summarizing)
            self._summaries_shown = True


def _as_bool(value: object) -> bool:
    """QSettings' ini files give "true"/"false" back as text."""
    return value if isinstance(value, bool) else str(value).lower() not in ("false", "0", "")
