"""Summaries of the documents, written by the chat model on their own thread.

A summary run is one generation per document, minutes for a large collection, so it has a
thread and a DocumentLibrary connection of its own: choosing or making a collection while it
runs is answered at once by the documents worker. Its engine child lives only for the run, on
one thread at the idle priority. Indexing still comes first: every request that changes a
collection stops the summary run (mid-generation: the half summary is not kept) and drops the
summary runs queued so far; the controller asks for a new run after each index run, which
goes on with the documents still lacking one.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal

from desktop.library_worker import LibraryWorker

if TYPE_CHECKING:
    from core.api import DocumentLibrary, SummaryProgress


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


class SummariesWorker(LibraryWorker):
    """Runs summary requests in order on its own thread."""

    summaries_changed = Signal(str, dict)  # collection name, {path: DocumentSummary}
    summarizing_started = Signal(str)  # collection name
    summary_progress = Signal(object)  # SummaryProgress
    summarizing_finished = Signal(object)  # SummaryOutcome

    def summarize(self, request: SummaryRequest) -> None:
        cancel = self._board.begin(request.request_id)
        if cancel is None or self._closing.is_set():
            return  # cancelled, or gave way to indexing, while it waited in the queue
        self._guarded("write the summaries", lambda lib: self._run(lib, request, cancel))

    def _run(self, lib: DocumentLibrary, request: SummaryRequest,
             cancel: threading.Event) -> None:
        name = request.collection
        if not any(c.name == name for c in lib.list_collections()):
            return  # removed while the request waited
        if not lib.documents_needing_summary(name):  # no model is started for nothing
            if not request.automatic:  # asked for: say so
                self.summarizing_finished.emit(SummaryOutcome(name, 0, 0, 0, False, 0.0))
            return
        self.summarizing_started.emit(name)
        counts = {"summarized": 0, "failed": 0}
        last: SummaryProgress | None = None
        started = time.monotonic()
        error = True
        engine = None
        try:
            from core.api import start_summary_engine

            engine = start_summary_engine()
            if not cancel.is_set():
                for event in lib.summarize_events(name, engine, cancel):
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
        if not self._closing.is_set() and any(c.name == name for c in lib.list_collections()):
            self.summaries_changed.emit(name, lib.summaries(name))

    def close(self) -> None:
        """On the worker thread, when it stops (a run's engine is closed by the run)."""
        self._close_library()
