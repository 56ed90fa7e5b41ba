"""One worker thread that runs submitted jobs in order: the pattern behind every desktop worker.

A job is a plain callable `job(ctx)`; `ctx.progress(...)` reports progress and
`ctx.cancelled()` (or `ctx.cancel_event`, for core calls that take a `threading.Event`) says
whether it was asked to stop. Its result, error, progress or cancellation comes back to the
callbacks given with it, on the GUI thread (queued signals), so a callback may touch widgets.

- Jobs run one at a time, in the order they were called, on a QThread named after the worker
  (Qt gives the OS thread that name, and the Python side takes it too, so debuggers, py-spy and
  log records name it).
- `cancel()` sets the running job's token (a cooperative stop: the job checks it) and drops the
  jobs still queued: they never start and report to `on_cancelled`. Jobs called afterwards run.
  A job that raises `core.errors.Cancelled` also reports to `on_cancelled`, not `on_error`.
- `keep=True` marks a job that must run even when the thread is cancelled or stopped (a write
  the user made just before closing the window); `cancel()` and `stop()` leave it alone.
- `open` and `close` run on the thread: `open` before the first job (again before the next job
  if it raised: its error goes to that job's `on_error`), `close` when the thread stops, if
  `open` succeeded. This is where a per-thread SQLite connection or engine child lives and dies.
- `interrupt` runs on the GUI thread when `cancel()` or `stop()` is called, for a running job
  that waits on something the token cannot reach (an engine child to cancel).
- `stop()` cancels, lets the queued `keep` jobs and `close` run, ends the thread and joins it.
  It is idempotent and safe at exit. After it, callbacks are no longer delivered (the window is
  going away) and `call()` is ignored: the job never runs and nothing reports back, because a
  late click or timer during close must not crash the app (a debug log line records it).
  `stop_job_threads(owner)` stops every JobThread below a QObject, all at once: the window's
  one shutdown path.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.api import Cancelled, GlassboxError

log = logging.getLogger(__name__)

STOP_WAIT_MS = 30_000


class JobContext:
    """What a running job gets: its cancel token and a progress reporter."""

    def __init__(self, cancel_event: threading.Event, report: Callable[[tuple], None]) -> None:
        self.cancel_event = cancel_event
        self._report = report

    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def raise_if_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise Cancelled("Cancelled.")

    def progress(self, *args: Any) -> None:
        """Reaches the job's `on_progress(*args)` on the GUI thread."""
        self._report(args)


Job = Callable[[JobContext], Any]
OnDone = Callable[[Any], None]
OnError = Callable[[BaseException], None]
OnProgress = Callable[..., None]
OnCancelled = Callable[[], None]


@dataclass
class _Job:
    job_id: int
    run: Job
    token: threading.Event
    keep: bool


@dataclass
class _Pending:
    on_done: OnDone | None
    on_error: OnError | None
    on_progress: OnProgress | None
    on_cancelled: OnCancelled | None
    token: threading.Event
    keep: bool


class _Runner(QObject):
    """Lives on the job thread; runs each job it is sent and reports how it went."""

    done = Signal(int, object)
    failed = Signal(int, object)  # job id, the exception
    cancelled = Signal(int)
    progress = Signal(int, object)  # job id, the args tuple

    def __init__(self, name: str, open_hook: Callable[[], object] | None,
                 close_hook: Callable[[], object] | None) -> None:
        super().__init__()
        self._name = name
        self._open_hook = open_hook
        self._close_hook = close_hook
        self._opened = False

    def _ensure_open(self) -> None:
        if not self._opened:
            threading.current_thread().name = self._name  # logs and py-spy name the thread
            if self._open_hook is not None:
                self._open_hook()
            self._opened = True

    @Slot()
    def open_now(self) -> None:
        try:
            self._ensure_open()
        except Exception:  # reported again to the first job, which retries it
            log.exception("opening the %s thread's resources failed", self._name)

    @Slot(object)
    def run(self, job: _Job) -> None:
        if job.token.is_set():
            self.cancelled.emit(job.job_id)  # cancelled while it waited: never started
            return
        ctx = JobContext(job.token, lambda args: self.progress.emit(job.job_id, args))
        try:
            self._ensure_open()
            result = job.run(ctx)
        except Cancelled:
            self.cancelled.emit(job.job_id)
        except Exception as exc:  # a bug must not end the thread: report it, keep serving
            if not isinstance(exc, GlassboxError):
                log.exception("a %s job failed", self._name)
            self.failed.emit(job.job_id, exc)
        else:
            self.done.emit(job.job_id, result)

    @Slot()
    def finish(self) -> None:
        try:
            if self._opened and self._close_hook is not None:
                self._close_hook()
        except Exception:  # the thread must end whatever state its resources are in
            log.exception("closing the %s thread's resources failed", self._name)
        finally:
            self._opened = False
            self.thread().quit()


class JobThread(QObject):
    """The GUI thread's handle on one named worker thread (see the module docstring)."""

    _submit = Signal(object)
    _open = Signal()
    _finish = Signal()

    def __init__(self, name: str, parent: QObject | None = None, *,
                 open: Callable[[], object] | None = None,  # noqa: A002 (the hook's name)
                 close: Callable[[], object] | None = None,
                 interrupt: Callable[[], object] | None = None,
                 stop_wait_ms: int = STOP_WAIT_MS) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.name = name
        self.qthread = QThread()
        self.qthread.setObjectName(name)
        self._interrupt = interrupt
        self._stop_wait_ms = stop_wait_ms
        self._runner = _Runner(name, open, close)
        self._runner.moveToThread(self.qthread)
        self._submit.connect(self._runner.run)
        self._open.connect(self._runner.open_now)
        self._finish.connect(self._runner.finish)
        self._runner.done.connect(self._on_done)
        self._runner.failed.connect(self._on_failed)
        self._runner.cancelled.connect(self._on_cancelled)
        self._runner.progress.connect(self._on_progress)
        self._ids = count(1)
        self._pending: dict[int, _Pending] = {}
        self._stopping = False
        self._joined = False

    # -- GUI thread -------------------------------------------------------------------------
    def start(self) -> None:
        """Start the thread and run `open` on it. Jobs called before this wait for it."""
        if not self._stopping and not self.qthread.isRunning():
            self.qthread.start()
            self._open.emit()

    def move_here(self, worker: QObject) -> None:
        """Move a worker object onto this thread, so signals it emits there are queued to
        GUI-thread receivers exactly as from a thread of its own."""
        worker.moveToThread(self.qthread)

    def call(self, job: Job, on_done: OnDone | None = None, on_error: OnError | None = None,
             on_progress: OnProgress | None = None, on_cancelled: OnCancelled | None = None,
             *, keep: bool = False) -> int:
        """Queue `job(ctx)`; returns its id (for `cancel`). Ignored once `stop` was called."""
        job_id = next(self._ids)
        if self._stopping:
            log.debug("%s is stopped: a job called after stop() was ignored", self.name)
            return job_id
        token = threading.Event()
        self._pending[job_id] = _Pending(on_done, on_error, on_progress, on_cancelled, token,
                                         keep)
        self._submit.emit(_Job(job_id, job, token, keep))
        return job_id

    def cancel(self, job_id: int | None = None) -> None:
        """Ask the running job to stop and drop the queued ones (or only the job `job_id`)."""
        for key, pending in self._pending.items():
            if (job_id is None or key == job_id) and not pending.keep:
                pending.token.set()
        if self._interrupt is not None and job_id is None:
            try:
                self._interrupt()
            except Exception:
                log.exception("interrupting the %s thread failed", self.name)

    @property
    def busy(self) -> bool:
        """True while a job called here has not reported back."""
        return bool(self._pending)

    @property
    def stopped(self) -> bool:
        return self._stopping

    def stop(self, timeout_ms: int | None = None) -> bool:
        """Cancel, run the `keep` jobs and `close`, end the thread and join it. True when the
        thread has ended (at once on a second call, or if it never started)."""
        self.begin_stop()
        return self.join(timeout_ms)

    def begin_stop(self) -> None:
        """The first half of `stop`, which returns at once (stop_job_threads stops them all
        in parallel)."""
        if self._stopping:
            return
        self._stopping = True
        self.cancel()
        if self.qthread.isRunning():
            self._finish.emit()  # queued after every job: `close` runs once they are done

    def join(self, timeout_ms: int | None = None) -> bool:
        if self._joined or not self.qthread.isRunning():
            self._joined = True
            self._pending.clear()
            return True
        if not self.qthread.wait(self._stop_wait_ms if timeout_ms is None else timeout_ms):
            log.error("the %s thread did not stop in time", self.name)
            return False
        self._joined = True
        self._pending.clear()
        return True

    def _take(self, job_id: int) -> _Pending | None:
        pending = self._pending.pop(job_id, None)
        return None if self._stopping else pending

    def _on_done(self, job_id: int, result: object) -> None:
        pending = self._take(job_id)
        if pending is not None and pending.on_done is not None:
            pending.on_done(result)

    def _on_failed(self, job_id: int, exc: BaseException) -> None:
        pending = self._take(job_id)
        if pending is None:
            return
        if pending.on_error is not None:
            pending.on_error(exc)
        elif isinstance(exc, GlassboxError):  # a bug was logged with its traceback already
            log.warning("a %s job failed: %s", self.name, exc)

    def _on_cancelled(self, job_id: int) -> None:
        pending = self._take(job_id)
        if pending is not None and pending.on_cancelled is not None:
            pending.on_cancelled()

    def _on_progress(self, job_id: int, args: tuple) -> None:
        pending = None if self._stopping else self._pending.get(job_id)
        if pending is not None and pending.on_progress is not None:
            pending.on_progress(*args)


def job_threads(owner: QObject) -> list[JobThread]:
    """Every JobThread below `owner` in the QObject tree."""
    return owner.findChildren(JobThread)


def stop_job_threads(owner: QObject, timeout_ms: int = STOP_WAIT_MS) -> list[str]:
    """Stop every JobThread below `owner`: all are asked first, then each is joined, so their
    resources close side by side. Returns the names of those that did not end in time."""
    threads = job_threads(owner)
    for thread in threads:
        thread.begin_stop()
    return [t.name for t in threads if not t.join(timeout_ms)]
