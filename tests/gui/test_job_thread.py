"""desktop.job_thread.JobThread on a real QThread: order, callbacks on the GUI thread, errors,
progress, cancel, stop."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QObject, QThread
from pytestqt.qtbot import QtBot

from core.errors import Cancelled, GlassboxError
from desktop.job_thread import JobContext, JobThread, job_threads, stop_job_threads


@pytest.fixture
def jobs(qtbot: QtBot) -> Iterator[JobThread]:
    thread = JobThread("glassbox-test-jobs")
    thread.start()
    yield thread
    assert thread.stop(5_000)
    assert not thread.qthread.isRunning()


def test_jobs_run_in_order_off_the_gui_thread_and_report_on_it(qtbot: QtBot,
                                                                 jobs: JobThread) -> None:
    gui = QThread.currentThread()
    ran: list[tuple[int, str]] = []
    delivered: list[tuple[object, bool]] = []

    def job(n: int) -> object:
        def run(_ctx: JobContext) -> int:
            assert QThread.currentThread() is not gui
            ran.append((n, threading.current_thread().name))
            return n * 10
        return run

    for n in range(5):
        jobs.call(job(n), lambda r: delivered.append((r, QThread.currentThread() is gui)))
    qtbot.waitUntil(lambda: len(delivered) == 5)
    assert [n for n, _ in ran] == [0, 1, 2, 3, 4]
    assert {name for _, name in ran} == {"glassbox-test-jobs"}  # py-spy and logs name it
    assert delivered == [(0, True), (10, True), (20, True), (30, True), (40, True)]
    assert not jobs.busy


def test_an_error_reaches_on_error_with_the_exception_and_the_thread_goes_on(
        qtbot: QtBot, jobs: JobThread) -> None:
    gui = QThread.currentThread()
    errors: list[tuple[BaseException, bool]] = []
    done: list[object] = []

    def fail(_ctx: JobContext) -> None:
        raise GlassboxError("the file is truncated")

    def bug(_ctx: JobContext) -> None:
        raise ZeroDivisionError("a bug")

    on_error = lambda e: errors.append((e, QThread.currentThread() is gui))  # noqa: E731
    jobs.call(fail, done.append, on_error)
    jobs.call(bug, done.append, on_error)
    jobs.call(lambda _ctx: "still serving", done.append, on_error)
    qtbot.waitUntil(lambda: done == ["still serving"])
    assert [type(e) for e, _ in errors] == [GlassboxError, ZeroDivisionError]
    assert str(errors[0][0]) == "the file is truncated"
    assert all(on_gui for _, on_gui in errors)


def test_progress_reaches_on_progress_on_the_gui_thread(qtbot: QtBot, jobs: JobThread) -> None:
    gui = QThread.currentThread()
    seen: list[tuple[int, int, str, bool]] = []
    done: list[object] = []

    def job(ctx: JobContext) -> str:
        for i in range(3):
            ctx.progress(i + 1, 3, f"step {i + 1}")
        return "ok"

    jobs.call(job, done.append,
              on_progress=lambda d, t, w: seen.append((d, t, w, QThread.currentThread() is gui)))
    qtbot.waitUntil(lambda: done == ["ok"])
    assert seen == [(1, 3, "step 1", True), (2, 3, "step 2", True), (3, 3, "step 3", True)]


def test_cancel_stops_the_running_job_and_drops_the_queued_ones(qtbot: QtBot,
                                                                jobs: JobThread) -> None:
    started = threading.Event()
    events: list[str] = []

    def long_job(ctx: JobContext) -> None:
        started.set()
        while not ctx.cancelled():
            ctx.cancel_event.wait(0.01)
        ctx.raise_if_cancelled()

    def queued(_ctx: JobContext) -> None:
        events.append("queued job ran")

    jobs.call(long_job, lambda _: events.append("done"), lambda _: events.append("error"),
              on_cancelled=lambda: events.append("running cancelled"))
    jobs.call(queued, on_cancelled=lambda: events.append("queued cancelled"))
    assert started.wait(5)
    jobs.cancel()
    jobs.call(lambda _ctx: "after", lambda r: events.append(r))  # called after: it runs
    qtbot.waitUntil(lambda: "after" in events)
    assert events == ["running cancelled", "queued cancelled", "after"]


def test_cancel_one_job_by_its_id(qtbot: QtBot, jobs: JobThread) -> None:
    gate = threading.Event()
    events: list[str] = []
    jobs.call(lambda _ctx: gate.wait(5), lambda _: events.append("first"))
    second = jobs.call(lambda _ctx: "second", events.append,
                       on_cancelled=lambda: events.append("second cancelled"))
    jobs.call(lambda _ctx: "third", events.append)
    jobs.cancel(second)
    gate.set()
    qtbot.waitUntil(lambda: len(events) == 3)
    assert events == ["first", "second cancelled", "third"]


def test_open_and_close_run_on_the_thread_around_the_jobs(qtbot: QtBot) -> None:
    gui = QThread.currentThread()
    log: list[tuple[str, bool]] = []
    thread = JobThread("glassbox-test-hooks",
                       open=lambda: log.append(("open", QThread.currentThread() is gui)),
                       close=lambda: log.append(("close", QThread.currentThread() is gui)))
    thread.start()
    thread.call(lambda _ctx: log.append(("job", QThread.currentThread() is gui)), keep=True)
    assert thread.stop(5_000)
    assert log == [("open", False), ("job", False), ("close", False)]


def test_a_failed_open_goes_to_the_job_and_is_tried_again(qtbot: QtBot) -> None:
    tries: list[int] = []

    def open_hook() -> None:
        tries.append(1)
        if len(tries) < 3:  # the start and the first job fail; the second job opens it
            raise GlassboxError("the database is locked")

    errors: list[BaseException] = []
    done: list[object] = []
    thread = JobThread("glassbox-test-open", open=open_hook)
    thread.start()
    thread.call(lambda _ctx: "first", done.append, errors.append)
    thread.call(lambda _ctx: "second", done.append, errors.append)
    qtbot.waitUntil(lambda: done == ["second"])
    assert [str(e) for e in errors] == ["the database is locked"]
    assert thread.stop(5_000)


def test_stop_joins_the_thread_runs_kept_jobs_and_is_idempotent(qtbot: QtBot) -> None:
    gate = threading.Event()
    log: list[str] = []
    interrupted: list[bool] = []
    thread = JobThread("glassbox-test-stop", close=lambda: log.append("close"),
                       interrupt=lambda: interrupted.append(True))
    thread.start()

    def blocking(ctx: JobContext) -> None:
        gate.set()
        ctx.cancel_event.wait(5)
        log.append("blocking ended")

    thread.call(blocking)
    thread.call(lambda _ctx: log.append("dropped"))
    thread.call(lambda _ctx: log.append("kept write"), keep=True)
    assert gate.wait(5)
    assert thread.stop(5_000)
    assert not thread.qthread.isRunning()
    assert log == ["blocking ended", "kept write", "close"]
    assert interrupted == [True]
    assert thread.stop(5_000)  # a second stop does nothing and says it has ended
    assert interrupted == [True]


def test_callbacks_after_stop_are_not_delivered_and_calls_are_ignored(qtbot: QtBot) -> None:
    delivered: list[object] = []
    ran: list[str] = []
    thread = JobThread("glassbox-test-after")
    thread.start()
    thread.call(lambda _ctx: "kept", delivered.append, keep=True)
    assert thread.stop(5_000)
    job_id = thread.call(lambda _ctx: ran.append("ran"), delivered.append)
    assert isinstance(job_id, int)
    qtbot.wait(50)  # any queued result would arrive now
    assert delivered == [] and ran == []
    assert thread.stopped and not thread.busy


def test_stop_before_start_is_safe(qtbot: QtBot) -> None:
    thread = JobThread("glassbox-test-never")
    thread.call(lambda _ctx: None)
    assert thread.stop(1_000)
    thread.start()  # a stopped thread does not start again
    assert not thread.qthread.isRunning()


def test_stop_job_threads_stops_every_thread_below_an_owner(qtbot: QtBot) -> None:
    owner = QObject()
    middle = QObject(owner)
    threads = [JobThread("glassbox-test-a", owner), JobThread("glassbox-test-b", middle)]
    outside = JobThread("glassbox-test-outside")
    for t in (*threads, outside):
        t.start()
    assert set(job_threads(owner)) == set(threads)
    assert stop_job_threads(owner, 5_000) == []
    assert not any(t.qthread.isRunning() for t in threads)
    assert outside.qthread.isRunning()
    assert outside.stop(5_000)


def test_a_job_raising_cancelled_reports_cancelled_not_an_error(qtbot: QtBot,
                                                                 jobs: JobThread) -> None:
    events: list[str] = []

    def job(_ctx: JobContext) -> None:
        raise Cancelled("stopped by the user")

    jobs.call(job, on_error=lambda _: events.append("error"),
              on_cancelled=lambda: events.append("cancelled"))
    qtbot.waitUntil(lambda: events == ["cancelled"])
