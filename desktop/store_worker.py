"""Database work off the GUI thread: one ChatStore on one worker thread (Anki's pattern).

The GUI submits a job, a function of the store, with callbacks for its result or its error;
the job runs on the worker thread and the callback on the GUI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.errors import GlassboxError
from core.store import ChatStore

log = logging.getLogger(__name__)

StoreJob = Callable[[ChatStore], Any]
OnDone = Callable[[Any], None]
OnError = Callable[[str], None]

_STOP_WAIT_MS = 10_000


class StoreWorker(QObject):
    """Lives on its own thread and owns the only ChatStore used there."""

    finished = Signal(int, object)
    failed = Signal(int, str)

    def __init__(self, db_path: Path) -> None:
        super().__init__()
        self._db_path = db_path
        self._store: ChatStore | None = None

    @Slot(int, object)
    def run_job(self, job_id: int, job: StoreJob) -> None:
        try:
            if self._store is None:
                self._store = ChatStore(self._db_path)
            result = job(self._store)
        except GlassboxError as exc:
            self.failed.emit(job_id, str(exc))
        except Exception as exc:  # a bug must not kill the thread: report it, keep serving
            log.exception("store job failed")
            self.failed.emit(job_id, f"The database operation failed: {exc}")
        else:
            self.finished.emit(job_id, result)

    @Slot()
    def shutdown(self) -> None:
        store, self._store = self._store, None
        try:
            if store is not None:
                store.close()
        finally:
            self.thread().quit()


class StoreClient(QObject):
    """The GUI thread's handle on the store worker."""

    _submit = Signal(int, object)
    _shutdown = Signal()

    def __init__(self, db_path: Path, on_error: OnError, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._on_error = on_error
        self._ids = count(1)
        self._callbacks: dict[int, tuple[OnDone | None, OnError | None]] = {}
        self._closed = False
        self.worker_thread = QThread()
        self.worker_thread.setObjectName("glassbox-store")
        self._worker = StoreWorker(db_path)
        self._worker.moveToThread(self.worker_thread)
        self._submit.connect(self._worker.run_job)
        self._shutdown.connect(self._worker.shutdown)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)

    def start(self) -> None:
        self.worker_thread.start()

    def call(self, job: StoreJob, on_done: OnDone | None = None,
             on_error: OnError | None = None) -> None:
        """Run `job(store)` on the worker; errors go to `on_error` or else to the window."""
        if self._closed:
            return
        job_id = next(self._ids)
        self._callbacks[job_id] = (on_done, on_error)
        self._submit.emit(job_id, job)

    @property
    def busy(self) -> bool:
        return bool(self._callbacks)

    def stop(self) -> None:
        """Finish the queued jobs, close the connection and end the thread."""
        if self._closed:
            return
        self._closed = True
        if self.worker_thread.isRunning():
            self._shutdown.emit()
            if not self.worker_thread.wait(_STOP_WAIT_MS):
                log.error("the store thread did not stop in time")

    def _on_finished(self, job_id: int, result: object) -> None:
        on_done, _ = self._callbacks.pop(job_id, (None, None))
        if on_done is not None and not self._closed:
            on_done(result)

    def _on_failed(self, job_id: int, message: str) -> None:
        _, on_error = self._callbacks.pop(job_id, (None, None))
        if not self._closed:
            (on_error or self._on_error)(message)
