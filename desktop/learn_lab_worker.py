"""The Learn labs' jobs off the GUI thread: one JobThread per lab, jobs run in order.

A job is a plain function `job(cancel, progress) -> result` (cancel a `threading.Event`,
progress a `(done, total, what)` callback), so the core calls it takes stay Qt-free. Results,
errors and progress come back to the GUI thread and reach the callbacks given with the job.
Cancel sets the job's Event: the core checks it (and kills a lab child process), and a job
still queued is dropped before it starts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread

from core.api import GlassboxError
from desktop.job_thread import JobContext, JobThread

LabProgress = Callable[[int, int, str], None]
LabJob = Callable[[threading.Event, LabProgress], Any]
_STOP_WAIT_MS = 30_000


def _message(exc: BaseException) -> str:
    if isinstance(exc, GlassboxError):
        return str(exc)
    return f"The lab job failed ({type(exc).__name__}: {exc})."  # logged with its traceback


class LabHandle(QObject):
    """The GUI thread's handle on one lab's JobThread."""

    def __init__(self, name: str, on_error: Callable[[str], None],
                 parent: QObject | None = None,
                 close: Callable[[], object] | None = None) -> None:
        """`close` runs on the thread when it stops (what the lab's jobs left open there)."""
        super().__init__(parent)
        self._on_error = on_error
        self.jobs = JobThread(name, self, close=close, stop_wait_ms=_STOP_WAIT_MS)

    @property
    def worker_thread(self) -> QThread:
        return self.jobs.qthread

    def start(self) -> None:
        self.jobs.start()

    def call(self, job: LabJob, on_done: Callable[[Any], None] | None = None,
             on_error: Callable[[str], None] | None = None,
             on_progress: LabProgress | None = None,
             on_cancelled: Callable[[], None] | None = None) -> int:
        """Queue `job`; returns its id (for `cancel`). Errors go to `on_error` or the window."""
        report = on_error or self._on_error

        def run(ctx: JobContext) -> Any:
            return job(ctx.cancel_event, ctx.progress)

        self.start()
        return self.jobs.call(run, on_done, lambda exc: report(_message(exc)), on_progress,
                              on_cancelled)

    def cancel(self, job_id: int | None = None) -> None:
        """Cancel one job, or every job not finished yet."""
        self.jobs.cancel(job_id)

    @property
    def busy(self) -> bool:
        return self.jobs.busy

    def stop(self) -> None:
        """Cancel what is queued or running and end the thread."""
        self.jobs.stop()
