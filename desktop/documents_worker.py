"""Local documents off the GUI thread: one DocumentLibrary on one worker thread.

The library holds an SQLite connection, so it is created on the worker thread and used only
there. Its embedder loads torch on the first encode, so nothing heavy happens at start-up
unless there is something to index. Requests run in order on its JobThread;
cancel is the one call that must reach a busy worker, so it sets a `threading.Event` that
`index_events` checks between files and batches instead of waiting in the worker's queue.
The folders of each collection are watched (core.rag.watch); a change there becomes an index
request like any other, so it queues behind a running one and a cancel covers it.

Summaries of the documents (written by the chat model) run here too, in their own engine child
that lives only for the run. They give way to indexing: every request that changes a
collection stops a summary run after its current document and drops the summary runs still
queued, so an index request waits for one short generation at most. The controller asks for a
new summary run after each index run, which picks up where a stopped one left off.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThread, Signal

from core.api import GlassboxError
from desktop.job_thread import JobThread

if TYPE_CHECKING:
    from core.api import DocumentLibrary, EngineClient, IndexProgress, SummaryProgress
    from core.rag.watch import FolderWatcher

log = logging.getLogger(__name__)

_STOP_WAIT_MS = 30_000
# While indexing, the table and the collection counts are refreshed at most this often: a
# folder of small files finishes dozens of them a second, and each refresh is a query.
_REFRESH_INTERVAL_S = 0.4

LibraryFactory = Callable[[], "DocumentLibrary"]


@dataclass(frozen=True)
class IndexRequest:
    """One indexing run the GUI asked for; `request_id` lets a cancel cover queued runs."""

    request_id: int
    collection: str
    retry_failed: bool = False


@dataclass(frozen=True)
class SummaryRequest:
    """One summary run. None starts an engine when every indexed document has a summary of its
    current content already; `automatic` ones (after indexing) then end without a word."""

    request_id: int
    collection: str
    automatic: bool = False


@dataclass(frozen=True)
class SummaryOutcome:
    """How a summary run ended."""

    collection: str
    summarized: int
    failed: int
    total: int
    cancelled: bool
    elapsed_s: float
    error: bool = False  # it stopped on an error (reported on `errored`)
    automatic: bool = False  # asked for by the controller after indexing, not by the user


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


class _CancelBoard:
    """Thread-safe cancel state shared by the handle (GUI thread) and the worker.

    A cancel stops the run in progress and every run queued before it, but not runs asked for
    afterwards: each run gets a fresh Event, and requests up to `cancelled_upto` are dropped.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current = threading.Event()
        self._cancelled_upto = 0
        self._last_posted = 0
        self._current_is_summary = False
        self._summaries_dropped_upto = 0

    def posted(self, request_id: int) -> None:
        with self._lock:
            self._last_posted = max(self._last_posted, request_id)

    def cancel(self) -> None:
        with self._lock:
            self._cancelled_upto = self._last_posted
            self._current.set()

    def give_way(self) -> None:
        """A request that changes a collection was posted: stop the summary run in progress
        (after its current document) and drop the summary runs queued so far."""
        with self._lock:
            self._summaries_dropped_upto = self._last_posted
            if self._current_is_summary:
                self._current.set()

    def begin(self, request_id: int, summary: bool = False) -> threading.Event | None:
        """The run's cancel token, or None when the request was cancelled before it began."""
        with self._lock:
            if request_id <= self._cancelled_upto:
                return None
            if summary and request_id <= self._summaries_dropped_upto:
                return None
            self._current = threading.Event()
            self._current_is_summary = summary
            return self._current


class DocumentsWorker(QObject):
    """Lives on its own thread and owns the only DocumentLibrary used there."""

    collections_changed = Signal(list)  # list[CollectionInfo]
    documents_changed = Signal(str, list)  # collection name, list[DocumentInfo]
    indexing_started = Signal(str)  # collection name
    progress = Signal(object)  # IndexProgress
    finished = Signal(object)  # IndexOutcome
    errored = Signal(str)
    # Emitted on the folder watcher's thread; the handle turns it into an index request, so
    # cancel covers it like any other run.
    folders_changed = Signal(str)  # collection name
    sample_settled = Signal()  # the first-run guide is indexed, or was not to be (each start)
    summaries_changed = Signal(str, dict)  # collection name, {path: DocumentSummary}
    summarizing_started = Signal(str)  # collection name
    summary_progress = Signal(object)  # SummaryProgress
    summarizing_finished = Signal(object)  # SummaryOutcome

    def __init__(self, board: _CancelBoard, factory: LibraryFactory | None = None,
                 watch_folders: bool = True) -> None:
        super().__init__()
        self._board = board
        self._factory = factory
        self._library: DocumentLibrary | None = None
        self._watcher: FolderWatcher | None = None
        self._watch_folders = watch_folders
        self._watched: set[str] = set()
        self._closing = threading.Event()

    # -- GUI thread -------------------------------------------------------------------------
    def close_soon(self) -> None:
        """Stop the run in progress and skip every request still queued."""
        self._closing.set()
        self._board.cancel()

    # -- worker thread ----------------------------------------------------------------------
    def _lib(self) -> DocumentLibrary:
        if self._library is None:
            if self._factory is not None:
                self._library = self._factory()
            else:
                # Imported here so the window shows before sqlite-vec and the parsers load.
                from core.api import DocumentLibrary

                self._library = DocumentLibrary()
        return self._library

    def _guarded(self, what: str, action: Callable[[DocumentLibrary], None]) -> bool:
        """Run `action` on the library; report a failure on `errored`. True if it worked."""
        if self._closing.is_set():
            return False
        try:
            action(self._lib())
        except GlassboxError as exc:
            self.errored.emit(str(exc))
            return False
        except Exception as exc:  # a bug must not kill the thread: report it, keep serving
            log.exception("documents worker: %s failed", what)
            self.errored.emit(f"Could not {what}: {exc}")
            return False
        return True

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

    def summarize(self, request: SummaryRequest) -> None:
        cancel = self._board.begin(request.request_id, summary=True)
        if cancel is None or self._closing.is_set():
            return  # cancelled, or gave way to indexing, while it waited in the queue
        self._guarded("write the summaries",
                      lambda lib: self._summarize(lib, request, cancel))

    def _summarize(self, lib: DocumentLibrary, request: SummaryRequest,
                   cancel: threading.Event) -> None:
        name = request.collection
        if not any(c.name == name for c in lib.list_collections()):
            return  # removed while the request waited
        if not lacking_summaries(lib, name):  # no model is started for nothing
            if not request.automatic:  # asked for: say so
                self.summarizing_finished.emit(SummaryOutcome(name, 0, 0, 0, False, 0.0))
            return
        from core.api import summarize_events

        self.summarizing_started.emit(name)
        counts = {"summarized": 0, "failed": 0}
        last: SummaryProgress | None = None
        started = time.monotonic()
        error = True
        engine = None
        try:
            engine = _summary_engine()
            if not cancel.is_set():
                for event in summarize_events(lib, name, engine, cancel):
                    last = event
                    if event.stage in counts:
                        counts[event.stage] += 1
                    self.summary_progress.emit(event)
            error = False
        finally:
            if engine is not None:
                engine.close()
            self.summarizing_finished.emit(SummaryOutcome(
                name, counts["summarized"], counts["failed"], last.total if last else 0,
                last is None or last.stage != "finished",
                last.elapsed_s if last else time.monotonic() - started, error,
                request.automatic))
        if not self._closing.is_set():
            self._emit_state(lib, name)

    def close(self) -> None:
        """On the worker thread, when it stops: the watcher's threads and the library."""
        library, self._library = self._library, None
        watcher, self._watcher = self._watcher, None
        try:
            if watcher is not None:
                watcher.close()  # joins its threads: none may outlive the window
            if library is not None:
                library.close()
        except Exception:  # the thread must end whatever state the connection is in
            log.exception("closing the document library failed")


def lacking_summaries(lib: DocumentLibrary, collection: str) -> list[str]:
    """The indexed documents of `collection` with no summary of their current content (the
    library leaves stale summaries out): what a summary run would write."""
    written = lib.summaries(collection)
    return [d.path for d in lib.documents(collection)
            if d.status == "indexed" and d.path not in written]


def _summary_engine() -> EngineClient:
    """An engine child with the user's default model and load settings, on one thread when
    it runs on the CPU, at the idle priority: summaries are background work, and a chat reply
    (or anything else the user waits for) takes the CPU first (see core/background.py)."""
    from core.api import load_model, resolve_model, saved_settings, start_engine
    from core.background import lower_process

    model = resolve_model(None)  # a missing model is told before a process starts
    engine = start_engine()
    try:
        load_model(engine, model, replace(saved_settings().load, threads=1))
        if engine.pid is not None:
            lower_process(engine.pid)
    except BaseException:
        engine.close()
        raise
    return engine


class DocumentsHandle(QObject):
    """The GUI thread's side: owns the JobThread the worker lives on and posts it requests."""

    def __init__(self, factory: LibraryFactory | None = None,
                 parent: QObject | None = None, watch_folders: bool = True) -> None:
        super().__init__(parent)
        self._board = _CancelBoard()
        self.worker = DocumentsWorker(self._board, factory, watch_folders)
        # Stopping stops the run in progress too (close_soon); the Cancel button uses the
        # board instead, which spares the refreshes queued beside the runs it cancels.
        self.jobs = JobThread("glassbox-documents", self, close=self.worker.close,
                              interrupt=self.worker.close_soon, stop_wait_ms=_STOP_WAIT_MS)
        self.jobs.move_here(self.worker)
        self.worker.folders_changed.connect(self._on_folders_changed)
        # The worker's signals, re-exported so callers need not know about the worker.
        self.collections_changed = self.worker.collections_changed
        self.documents_changed = self.worker.documents_changed
        self.indexing_started = self.worker.indexing_started
        self.progress = self.worker.progress
        self.finished = self.worker.finished
        self.errored = self.worker.errored
        self.sample_settled = self.worker.sample_settled
        self.summaries_changed = self.worker.summaries_changed
        self.summarizing_started = self.worker.summarizing_started
        self.summary_progress = self.worker.summary_progress
        self.summarizing_finished = self.worker.summarizing_finished
        self._next_id = 0

    @property
    def worker_thread(self) -> QThread:
        return self.jobs.qthread

    def start(self) -> None:
        """Start the thread; the collections arrive on collections_changed. On the first run
        the bundled guide is then indexed (Cancel stops it; the next start resumes it)."""
        self.jobs.start()
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
        self._board.give_way()
        self._post(lambda: self.worker.add_paths(request, paths))

    def remove_documents(self, collection: str, paths: list[str]) -> None:
        paths = list(paths)
        self._board.give_way()
        self._post(lambda: self.worker.remove_documents(collection, paths))

    def remove_collection(self, name: str) -> None:
        self._board.give_way()
        self._post(lambda: self.worker.remove_collection(name))

    def index(self, collection: str, retry_failed: bool = False) -> None:
        """Queue an indexing run; one already running finishes first (requests are kept),
        a summary run stops after its current document."""
        request = self._request(collection, retry_failed)
        self._board.give_way()
        self._post(lambda: self.worker.index(request))

    def summarize(self, collection: str, automatic: bool = False) -> None:
        """Queue a summary run: summaries for the indexed documents that lack one.
        `automatic`: only if some document lacks one (no model starts otherwise)."""
        self._next_id += 1
        self._board.posted(self._next_id)
        request = SummaryRequest(self._next_id, collection, automatic)
        self._post(lambda: self.worker.summarize(request))

    def retry_failed(self, collection: str) -> None:
        self.index(collection, retry_failed=True)

    def cancel(self) -> None:
        """Stop the run in progress (indexing or summaries; summaries written are kept) and the
        runs queued so far. Safe while the worker is busy."""
        self._board.cancel()

    def shutdown(self) -> None:
        """Cancel, let the worker close the database, end the thread."""
        self.jobs.stop()

    def _on_folders_changed(self, collection: str) -> None:
        if not self.jobs.stopped:
            self.index(collection)

    def _request(self, collection: str, retry_failed: bool = False) -> IndexRequest:
        self._next_id += 1
        self._board.posted(self._next_id)
        return IndexRequest(self._next_id, collection, retry_failed)

    def _post(self, action: Callable[[], None]) -> None:
        self.jobs.call(lambda _ctx: action())
