"""The Learn labs' jobs off the GUI thread: one worker thread per lab, jobs run in order.

A job is a plain function `job(cancel, progress) -> result` (cancel a `threading.Event`,
progress a `(done, total, what)` callback), so the core calls it takes stay Qt-free. Results,
errors and progress come back to the GUI thread as queued signals and reach the callbacks
given with the job. Cancel sets the job's Event: the core checks it (and kills a lab child
process), and a job still queued is dropped before it starts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.errors import Cancelled, GlassboxError

log = logging.getLogger(__name__)

LabProgress = Callable[[int, int, str], None]
LabJob = Callable[[threading.Event, LabProgress], Any]
_STOP_WAIT_MS = 30_000


@dataclass
class _Callbacks:
    on_done: Callable[[Any], None] | None
    on_error: Callable[[str], None] | None
    on_progress: LabProgress | None
    on_cancelled: Callable[[], None] | None
    cancel: threading.Event


class LabWorker(QObject):
    """Lives on its own thread and runs one job at a time."""

    finished = Signal(int, object)
    failed = Signal(int, str, bool)  # job id, message, cancelled
    progress = Signal(int, int, int, str)  # job id, done, total, what

    @Slot(int, object, object)
    def run_job(self, job_id: int, job: LabJob, cancel: threading.Event) -> None:
        if cancel.is_set():
            self.failed.emit(job_id, "Cancelled.", True)
            return
        try:
            result = job(cancel, lambda d, t, w: self.progress.emit(job_id, d, t, w))
        except Cancelled as exc:
            self.failed.emit(job_id, str(exc), True)
        except GlassboxError as exc:
            self.failed.emit(job_id, str(exc), False)
        except Exception as exc:  # a bug must not end the thread: report it, keep serving
            log.exception("lab job failed")
            self.failed.emit(job_id, f"The lab job failed ({type(exc).__name__}: {exc}).",
                             False)
        else:
            self.finished.emit(job_id, result)

    @Slot()
    def shutdown(self) -> None:
        self.thread().quit()


class LabHandle(QObject):
    """The GUI thread's handle on one lab worker thread."""

    _submit = Signal(int, object, object)
    _shutdown = Signal()

    def __init__(self, name: str, on_error: Callable[[str], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._on_error = on_error
        self._ids = count(1)
        self._jobs: dict[int, _Callbacks] = {}
        self._closed = False
        self.worker_thread = QThread()
        self.worker_thread.setObjectName(name)
        self._worker = LabWorker()
        self._worker.moveToThread(self.worker_thread)
        self._submit.connect(self._worker.run_job)
        self._shutdown.connect(self._worker.shutdown)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._worker.progress.connect(self._on_progress)

    def start(self) -> None:
        if not self.worker_thread.isRunning() and not self._closed:
            self.worker_thread.start()

    def call(self, job: LabJob, on_done: Callable[[Any], None] | None = None,
             on_error: Callable[[str], None] | None = None,
             on_progress: LabProgress | None = None,
             on_cancelled: Callable[[], None] | None = None) -> int:
        """Queue `job`; returns its id (for `cancel`). Errors go to `on_error` or the window."""
        job_id = next(self._ids)
        if self._closed:
            return job_id
        self.start()
        cancel = threading.Event()
        self._jobs[job_id] = _Callbacks(on_done, on_error, on_progress, on_cancelled, cancel)
        self._submit.emit(job_id, job, cancel)
        return job_id

    def cancel(self, job_id: int | None = None) -> None:
        """Cancel one job, or every job not finished yet."""
        for key, callbacks in self._jobs.items():
            if job_id is None or key == job_id:
                callbacks.cancel.set()

    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    def stop(self) -> None:
        """Cancel what is queued or running and end the thread."""
        if self._closed:
            return
        self._closed = True
        self.cancel()
        if self.worker_thread.isRunning():
            self._shutdown.emit()
            if not self.worker_thread.wait(_STOP_WAIT_MS):
                log.error("the %s thread did not stop in time", self.worker_thread.objectName())

    def _on_finished(self, job_id: int, result: object) -> None:
        callbacks = self._jobs.pop(job_id, None)
        if callbacks is not None and callbacks.on_done is not None and not self._closed:
            callbacks.on_done(result)

    def _on_failed(self, job_id: int, message: str, cancelled: bool) -> None:
        callbacks = self._jobs.pop(job_id, None)
        if callbacks is None or self._closed:
            return
        if cancelled:
            if callbacks.on_cancelled is not None:
                callbacks.on_cancelled()
            return
        (callbacks.on_error or self._on_error)(message)

    def _on_progress(self, job_id: int, done: int, total: int, what: str) -> None:
        callbacks = self._jobs.get(job_id)
        if callbacks is not None and callbacks.on_progress is not None and not self._closed:
            callbacks.on_progress(done, total, what)
