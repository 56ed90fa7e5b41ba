"""Local documents off the GUI thread: one DocumentLibrary on one worker thread.

The library holds an SQLite connection, so it is created on the worker thread and used only
there. Its embedder loads torch on the first encode, so nothing heavy happens at start-up
unless there is something to index. Requests run in order on its JobThread;
cancel is the one call that must reach a busy worker, so it sets a `threading.Event` that
`index_events` checks between files and batches instead of waiting in the worker's queue.
The folders of each collection are watched (core.rag.watch); a change there becomes an index
request like any other, so it queues behind a running one and a cancel covers it.

Summaries of the documents (written by the chat model) run on a thread of their own
(desktop/summaries_worker.py), which the handle here also owns: a summary run takes minutes,
and a click on a collection must not wait for it. Requests that change a collection make a
summary run give way (see there).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThread, Signal

from desktop.job_thread import JobThread, stop_job_threads
from desktop.library_worker import CancelBoard, LibraryFactory, LibraryWorker
from desktop.summaries_worker import SummariesWorker, SummaryRequest

if TYPE_CHECKING:
    from core.api import DocumentLibrary, IndexProgress
    from core.rag.watch import FolderWatcher

log = logging.getLogger(__name__)

_STOP_WAIT_MS = 30_000
# While indexing, the table and the collection counts are refreshed at most this often: a
# folder of small files finishes dozens of them a second, and each refresh is a query.
_REFRESH_INTERVAL_S = 0.4


@dataclass(frozen=True)
class IndexRequest:
    """One indexing run the GUI asked for; `request_id` lets a cancel cover queued runs."""

    request_id: int
    collection: str
    retry_failed: bool = False


@dataclass(frozen=True)
class IndexOutcome:
    """How a run ended: the library's summary plus which collection it was."""

    collection: str
    indexed: int
    skipped: int
    failed: int
    chunks: int
    cancelled: bool
    elapsed_s: float


class DocumentsWorker(LibraryWorker):
    """Lists, changes and indexes the collections on its own thread."""

    collections_changed = Signal(list)  # list[CollectionInfo]
    documents_changed = Signal(str, list)  # collection name, list[DocumentInfo]
    indexing_started = Signal(str)  # collection name
    progress = Signal(object)  # IndexProgress
    finished = Signal(object)  # IndexOutcome
    # Emitted on the folder watcher's thread; the handle turns it into an index request, so
    # cancel covers it like any other run.
    folders_changed = Signal(str)  # collection name
    sample_settled = Signal()  # the first-run guide is indexed, or was not to be (each start)
    summaries_changed = Signal(str, dict)  # collection name, {path: DocumentSummary}

    def __init__(self, board: CancelBoard, factory: LibraryFactory | None = None,
                 watch_folders: bool = True) -> None:
        super().__init__(board, factory)
        self._watcher: FolderWatcher | None = None
        self._watch_folders = watch_folders
        self._watched: set[str] = set()

    def _emit_state(self, lib: DocumentLibrary, collection: str | None) -> None:
        collections = lib.list_collections()
        self.collections_changed.emit(collections)
        if collection is not None and any(c.name == collection for c in collections):
            self.documents_changed.emit(collection, lib.documents(collection))
            self.summaries_changed.emit(collection, lib.summaries(collection))

    def _sync_watches(self, lib: DocumentLibrary) -> None:
        """Watch the folders of every collection (after it changed), so that files added,
        edited or deleted there are indexed without a click."""
        if not self._watch_folders or self._closing.is_set():
            return
        names = [c.name for c in lib.list_collections()]
        if self._watcher is None:
            if not any(lib.watched_folders(n) for n in names):
                return  # no folder to watch: start no threads
            from core.rag.watch import FolderWatcher

            self._watcher = FolderWatcher(self.folders_changed.emit)
        for name in names:
            self._watcher.watch(name, lib.watched_folders(name))
        for name in set(self._watched) - set(names):
            self._watcher.unwatch(name)
        self._watched = set(names)

    def start(self) -> None:
        """Send the collections and start watching their folders."""
        def start(lib: DocumentLibrary) -> None:
            self._emit_state(lib, None)
            self._sync_watches(lib)

        self._guarded("read the collections", start)

    def refresh(self, collection: str | None) -> None:
        self._guarded("read the collections", lambda lib: self._emit_state(lib, collection))

    def create_collection(self, name: str) -> None:
        def create(lib: DocumentLibrary) -> None:
            created = lib.create_collection(name).name
            self._emit_state(lib, created)

        self._guarded("create the collection", create)

    def add_paths(self, request: IndexRequest, paths: list[str]) -> None:
        def add(lib: DocumentLibrary) -> None:
            lib.add_paths(request.collection, [Path(p) for p in paths])
            self._emit_state(lib, request.collection)
            self._sync_watches(lib)

        if self._guarded("add the documents", add):
            self.index(request)  # added documents are pending: index them right away

    def remove_documents(self, collection: str, paths: list[str]) -> None:
        def remove(lib: DocumentLibrary) -> None:
            for path in paths:
                lib.remove_path(collection, path)
            self._emit_state(lib, collection)
            self._sync_watches(lib)

        self._guarded("remove the documents", remove)

    def remove_collection(self, name: str) -> None:
        def remove(lib: DocumentLibrary) -> None:
            lib.remove_collection(name)
            self._emit_state(lib, None)
            self._sync_watches(lib)

        self._guarded("remove the collection", remove)

    def index(self, request: IndexRequest) -> None:
        cancel = self._board.begin(request.request_id)
        if cancel is None or self._closing.is_set():
            return  # cancelled while it waited in the queue
        self._guarded("index the documents", lambda lib: self._run(lib, request, cancel))

    def _run(self, lib: DocumentLibrary, request: IndexRequest, cancel: threading.Event) -> None:
        name = request.collection
        lib.collection(name)  # an unknown name raises before the progress area shows
        self.indexing_started.emit(name)
        counts = {"indexed": 0, "skipped": 0, "failed": 0}
        last: IndexProgress | None = None
        refreshed = time.monotonic()
        try:
            for event in lib.index_events(name, cancel, request.retry_failed):
                last = event
                self.progress.emit(event)
                if event.stage in counts:
                    counts[event.stage] += 1
                if (event.stage in ("indexed", "failed")
                        and time.monotonic() - refreshed >= _REFRESH_INTERVAL_S):
                    self._emit_state(lib, name)  # statuses fill in while the run goes on
                    refreshed = time.monotonic()
        finally:
            self.finished.emit(IndexOutcome(
                name, counts["indexed"], counts["skipped"], counts["failed"],
                last.chunks_done if last else 0,
                last is None or last.stage != "finished",
                last.elapsed_s if last else 0.0))
        if not self._closing.is_set():
            self._emit_state(lib, name)

    def ensure_sample(self, request: IndexRequest) -> None:
        """On the first run, add and index the bundled guide, in the same progress bar."""
        cancel = self._board.begin(request.request_id)
        if cancel is None or self._closing.is_set():
            self.sample_settled.emit()
            return
        self._guarded("add the sample documents", lambda lib: self._sample(lib, cancel))
        self.sample_settled.emit()

    def _sample(self, lib: DocumentLibrary, cancel: threading.Event) -> None:
        from core.rag.sample import SAMPLE_COLLECTION, ensure_sample_collection

        counts = {"indexed": 0, "skipped": 0, "failed": 0}
        seen: list[IndexProgress] = []

        def progress(event: IndexProgress) -> None:
            if not seen:  # only a first run indexes: later starts show nothing
                self.indexing_started.emit(SAMPLE_COLLECTION)
                self._emit_state(lib, SAMPLE_COLLECTION)
            seen[:] = [event]
            self.progress.emit(event)
            if event.stage in counts:
                counts[event.stage] += 1

        try:
            ensure_sample_collection(lib, progress, cancel)
        finally:
            if seen:
                last = seen[0]
                self.finished.emit(IndexOutcome(
                    SAMPLE_COLLECTION, counts["indexed"], counts["skipped"], counts["failed"],
                    last.chunks_done, last.stage != "finished", last.elapsed_s))
        if seen and not self._closing.is_set():
            self._emit_state(lib, SAMPLE_COLLECTION)

    def close(self) -> None:
        """On the worker thread, when it stops: the watcher's threads and the library."""
        watcher, self._watcher = self._watcher, None
        try:
            if watcher is not None:
                watcher.close()  # joins its threads: none may outlive the window
        except Exception:  # the library must be closed whatever happened to the watcher
            log.exception("closing the folder watcher failed")
        self._close_library()


class DocumentsHandle(QObject):
    """The GUI thread's side: owns the two worker threads (collections and indexing on one,
    summaries on the other) and posts them requests."""

    # Heard from both workers (each emits them on its own thread; they reach the GUI thread
    # queued, so neither waits for the other's thread).
    errored = Signal(str)
    summaries_changed = Signal(str, dict)  # collection name, {path: DocumentSummary}

    def __init__(self, factory: LibraryFactory | None = None,
                 parent: QObject | None = None, watch_folders: bool = True) -> None:
        super().__init__(parent)
        self._board = CancelBoard()
        self._summary_board = CancelBoard()
        self.worker = DocumentsWorker(self._board, factory, watch_folders)
        self.summaries_worker = SummariesWorker(self._summary_board, factory)
        # Stopping stops the run in progress too (close_soon); the Cancel button uses the
        # board instead, which spares the refreshes queued beside the runs it cancels.
        self.jobs = JobThread("glassbox-documents", self, close=self.worker.close,
                              interrupt=self.worker.close_soon, stop_wait_ms=_STOP_WAIT_MS)
        self.jobs.move_here(self.worker)
        self.summary_jobs = JobThread(
            "glassbox-summaries", self, close=self.summaries_worker.close,
            interrupt=self.summaries_worker.close_soon, stop_wait_ms=_STOP_WAIT_MS)
        self.summary_jobs.move_here(self.summaries_worker)
        self.worker.folders_changed.connect(self._on_folders_changed)
        # The workers' signals, re-exported so callers need not know about the workers.
        self.collections_changed = self.worker.collections_changed
        self.documents_changed = self.worker.documents_changed
        self.indexing_started = self.worker.indexing_started
        self.progress = self.worker.progress
        self.finished = self.worker.finished
        self.sample_settled = self.worker.sample_settled
        summaries = self.summaries_worker
        for worker in (self.worker, summaries):
            worker.errored.connect(self.errored)
            worker.summaries_changed.connect(self.summaries_changed)
        self.summarizing_started = summaries.summarizing_started
        self.summary_progress = summaries.summary_progress
        self.summarizing_finished = summaries.summarizing_finished
        self._next_id = 0

    @property
    def worker_thread(self) -> QThread:
        return self.jobs.qthread

    @property
    def summaries_thread(self) -> QThread:
        return self.summary_jobs.qthread

    def start(self) -> None:
        """Start the threads; the collections arrive on collections_changed. On the first run
        the bundled guide is then indexed (Cancel stops it; the next start resumes it)."""
        self.jobs.start()
        self.summary_jobs.start()
        worker = self.worker
        self._post(worker.start)
        request = self._request("sample")
        self._post(lambda: worker.ensure_sample(request))

    def refresh(self, collection: str | None = None) -> None:
        """Ask for the collections (and this collection's documents) to be sent again."""
        self._post(lambda: self.worker.refresh(collection))

    def create_collection(self, name: str) -> None:
        self._post(lambda: self.worker.create_collection(name))

    def add_paths(self, collection: str, paths: list[str]) -> None:
        """Add files and folders (creating the collection if needed) and index them."""
        request, paths = self._request(collection), list(paths)
        self._give_way()
        self._post(lambda: self.worker.add_paths(request, paths))

    def remove_documents(self, collection: str, paths: list[str]) -> None:
        paths = list(paths)
        self._give_way()
        self._post(lambda: self.worker.remove_documents(collection, paths))

    def remove_collection(self, name: str) -> None:
        self._give_way()
        self._post(lambda: self.worker.remove_collection(name))

    def index(self, collection: str, retry_failed: bool = False) -> None:
        """Queue an indexing run; one already running finishes first (requests are kept),
        a summary run stops."""
        request = self._request(collection, retry_failed)
        self._give_way()
        self._post(lambda: self.worker.index(request))

    def summarize(self, collection: str, automatic: bool = False) -> None:
        """Queue a summary run: summaries for the indexed documents that lack one.
        `automatic`: only if some document lacks one (no model starts otherwise)."""
        self._next_id += 1
        self._summary_board.posted(self._next_id)
        request = SummaryRequest(self._next_id, collection, automatic)
        worker = self.summaries_worker
        self.summary_jobs.call(lambda _ctx: worker.summarize(request))

    def retry_failed(self, collection: str) -> None:
        self.index(collection, retry_failed=True)

    def cancel(self) -> None:
        """Stop the runs in progress (indexing and summaries; summaries written are kept) and
        the runs queued so far. Safe while the workers are busy."""
        self._board.cancel()
        self._summary_board.cancel()

    def shutdown(self) -> None:
        """Cancel, let the workers close the database, end both threads side by side."""
        stop_job_threads(self)

    def _give_way(self) -> None:
        """A request that changes a collection comes first: stop the summary run in progress
        (mid-generation) and drop the summary runs queued so far (the controller asks for
        one again after the next index run)."""
        self._summary_board.cancel()

    def _on_folders_changed(self, collection: str) -> None:
        if not self.jobs.stopped:
            self.index(collection)

    def _request(self, collection: str, retry_failed: bool = False) -> IndexRequest:
        self._next_id += 1
        self._board.posted(self._next_id)
        return IndexRequest(self._next_id, collection, retry_failed)

    def _post(self, action: Callable[[], None]) -> None:
        self.jobs.call(lambda _ctx: action())
