"""Database work off the GUI thread: one ChatStore on one JobThread (Anki's pattern).

The GUI submits a job, a function of the store, with callbacks for its result or its error;
the job runs on the worker thread and the callback on the GUI thread. The store's connection
is opened on that thread before the first job and closed there when the thread stops. Every
job is kept at stop: a chat or a setting saved just before the window closed is written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread

from core.api import ChatStore, GlassboxError
from desktop.job_thread import JobContext, JobThread

log = logging.getLogger(__name__)

StoreJob = Callable[[ChatStore], Any]
OnDone = Callable[[Any], None]
OnError = Callable[[str], None]

_STOP_WAIT_MS = 10_000


def _message(exc: BaseException) -> str:
    if isinstance(exc, GlassboxError):
        return str(exc)
    return f"The database operation failed: {exc}"  # a bug: its traceback is in the log


class StoreClient(QObject):
    """The GUI thread's handle on the store's JobThread."""

    def __init__(self, db_path: Path, on_error: OnError, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._db_path = db_path
        self._on_error = on_error
        self._store: ChatStore | None = None  # used on the job thread only
        self.jobs = JobThread("glassbox-store", self, open=self._open, close=self._close,
                              stop_wait_ms=_STOP_WAIT_MS)

    @property
    def worker_thread(self) -> QThread:
        return self.jobs.qthread

    # -- job thread -------------------------------------------------------------------------
    def _open(self) -> None:
        self._store = ChatStore(self._db_path)

    def _close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            store.close()

    def _with_store(self, job: StoreJob) -> Callable[[JobContext], Any]:
        def run(_ctx: JobContext) -> Any:
            assert self._store is not None  # opened before the first job
            return job(self._store)
        return run

    # -- GUI thread -------------------------------------------------------------------------
    def start(self) -> None:
        self.jobs.start()

    def call(self, job: StoreJob, on_done: OnDone | None = None,
             on_error: OnError | None = None) -> None:
        """Run `job(store)` on the worker; errors go to `on_error` or else to the window."""
        report = on_error or self._on_error
        self.jobs.call(self._with_store(job), on_done, lambda exc: report(_message(exc)),
                       keep=True)

    @property
    def busy(self) -> bool:
        return self.jobs.busy

    def stop(self) -> None:
        """Finish the queued jobs, close the connection and end the thread."""
        self.jobs.stop()
