"""Summaries in the Documents tab: the real bundled chat model writes them on the documents
worker thread after indexing (real files, real SQLite), the table shows them, Cancel keeps
what was written, and the GUI thread keeps turning its event loop meanwhile."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from documents_harness import DocumentsHarness
from guitools import TEST_N_CTX, write_settings
from PySide6.QtCore import (
    QElapsedTimer,
    QObject,
    QSettings,
    Qt,
    QThread,
    QTimer,
    SignalInstance,
)
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.models.registry import ModelRegistry
from core.rag.embed import default_embedder
from core.rag.summary_types import SummaryProgress
from desktop.documents_controller import DocumentsController
from desktop.documents_worker import IndexOutcome
from desktop.summaries_worker import SummaryOutcome
from ui.documents_panel import DocumentsPanel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from gguf_files import write_gguf  # noqa: E402 (the model library's tests write these too)

RUN_TIMEOUT_MS = 90_000  # indexing loads the embedder, summaries start an engine child
SHOTS = Path(os.environ.get("GLASSBOX_SHOTS", "/tmp/shots"))
NOTES = {
    "lanterns.txt": "The glass lanterns of Zubrowka are blown by hand in the old town. Each "
                    "one takes a week, and the makers sign the base with a small star.",
    "bridges.txt": "Seven bridges cross the river at Zubrowka. The oldest is made of stone "
                   "and was built in 1602; the newest is a footbridge of steel.",
    "harvest.txt": "In autumn the valley farmers bring apples and pears to the market by the "
                   "river, and the bakers sell a spiced bread for the harvest festival.",
}


@dataclass
class Docs:
    panel: DocumentsPanel
    controller: DocumentsController
    errors: list[str] = field(default_factory=list)
    events: list[SummaryProgress] = field(default_factory=list)
    # The threads the worker's summary events were emitted on (heard directly, not queued).
    emitters: set[QThread] = field(default_factory=set)
    relays: list[Relay] = field(default_factory=list)


class Relay(QObject):
    """Calls `action` on the GUI thread: a worker's signal connected to a plain function
    would call it on the worker's thread (see tests/qt_waits.py)."""

    def __init__(self, action: Callable[..., object]) -> None:
        super().__init__()
        self._action = action

    def receive(self, *args: object) -> None:
        self._action(*args)


def on_gui_thread(signal: SignalInstance, action: Callable[..., object],
                  keep: list[Relay]) -> Relay:
    relay = Relay(action)
    signal.connect(relay.receive)
    keep.append(relay)  # a relay that is collected stops relaying
    return relay


@pytest.fixture(scope="module", autouse=True)
def embedder_warm() -> None:
    """Load the embedder once, so the waits measure indexing and summaries, not torch."""
    default_embedder().encode(["warm up"])


@pytest.fixture
def open_docs(qtbot: QtBot, glassbox_home: Path) -> Iterator[Callable[[], Docs]]:
    """The panel and its controller, with summaries after indexing turned on (the GUI tests'
    conftest turns them off) and a small context for the chat model."""
    settings = QSettings(str(glassbox_home / "window.ini"), QSettings.Format.IniFormat)
    settings.setValue("documents/auto_summaries", True)
    settings.sync()
    write_settings(n_ctx=TEST_N_CTX)
    harness = DocumentsHarness(qtbot, (1200, 560))

    def _open() -> Docs:
        errors: list[str] = []
        events: list[SummaryProgress] = []
        emitters: set[QThread] = set()
        relays: list[Relay] = []

        def wire(controller: DocumentsController) -> None:
            progress = controller.handle.summary_progress
            progress.connect(lambda e: emitters.add(QThread.currentThread()),
                             Qt.ConnectionType.DirectConnection)
            on_gui_thread(progress, events.append, relays)

        panel, controller = harness.open(errors, wire)
        return Docs(panel, controller, errors, events, emitters, relays)

    yield _open
    harness.close()


def write_notes(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text(NOTES[name], encoding="utf-8")
    return folder


def next_summary_outcome(qtbot: QtBot, docs: Docs,
                         action: Callable[[], object] | None = None) -> SummaryOutcome:
    before = docs.controller.last_summary_outcome
    if action is not None:
        action()
    qtbot.waitUntil(lambda: docs.controller.last_summary_outcome is not before,
                    timeout=RUN_TIMEOUT_MS)
    outcome = docs.controller.last_summary_outcome
    assert outcome is not None
    return outcome


def shot(widget: DocumentsPanel, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert widget.grab().save(str(SHOTS / name))


class GapMeter:
    """The longest the GUI thread went without turning its event loop, while it ran."""

    def __init__(self) -> None:
        self.longest_ms = 0
        self.ticks = 0
        self._clock = QElapsedTimer()
        self._timer = QTimer(interval=20)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self._clock.start()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        self.ticks += 1
        self.longest_ms = max(self.longest_ms, self._clock.restart())


def test_summaries_follow_indexing_and_show_in_the_table(
        qtbot: QtBot, open_docs: Callable[[], Docs], tmp_path: Path) -> None:
    docs = open_docs()
    folder = write_notes(tmp_path / "notes", ["lanterns.txt", "bridges.txt"])
    meter = GapMeter()
    shots: list[str] = []

    def on_progress(event: SummaryProgress) -> None:
        if event.stage == "summarized" and not shots:
            shot(docs.panel, "documents-summaries-running.png")  # the bar mid-run
            shots.append(event.path or "")

    handle = docs.controller.handle
    on_gui_thread(handle.summary_progress, on_progress, docs.relays)
    on_gui_thread(handle.summarizing_started, lambda _name: meter.start(), docs.relays)
    outcome = next_summary_outcome(
        qtbot, docs, lambda: docs.panel.create_requested.emit("notes", [str(folder)]))
    meter.stop()

    assert not docs.errors
    assert (outcome.collection, outcome.total, outcome.cancelled, outcome.error) == \
        ("notes", 2, False, False)
    assert outcome.summarized + outcome.failed == 2 and outcome.summarized >= 1
    # Every model call ran on the documents worker, never on the GUI thread.
    assert docs.emitters and QApplication.instance().thread() not in docs.emitters  # type: ignore[union-attr]
    assert [e.stage for e in docs.events][0] == "started"
    assert docs.events[-1].stage == "finished"
    # A generous bound: the model on the GUI thread would stall it for the whole run.
    assert meter.ticks > 10 and meter.longest_ms < 3000, (meter.ticks, meter.longest_ms)
    # The table: the summary as the Name cell's tooltip and in the Summary column.
    qtbot.waitUntil(lambda: len(docs.panel.table.table_model.summaries()) == outcome.summarized)
    written = [e for e in docs.events if e.stage == "summarized"]
    for event in written:
        name = Path(event.path or "").name
        tip = docs.panel.table.summary_tip(name)
        assert event.summary and event.summary.split()[0] in tip
        assert " ".join(event.summary.split()) in " ".join(tip.split())
        assert tip.startswith(event.path or "?")
    assert not docs.panel.progress.running
    assert docs.panel.progress.title.text() == "Wrote summaries for “notes”"
    docs.panel.table.selectRow(0)
    qtbot.wait(50)  # the strip's layout settles after its bar hid
    shot(docs.panel, "documents-summaries.png")


def test_cancel_keeps_what_was_written_and_the_next_run_finishes(
        qtbot: QtBot, open_docs: Callable[[], Docs], tmp_path: Path) -> None:
    docs = open_docs()
    folder = write_notes(tmp_path / "valley", list(NOTES))

    def cancel_after_first(event: SummaryProgress) -> None:
        if event.stage == "summarized" and docs.panel.progress.cancel_button.isEnabled():
            docs.panel.progress.cancel_button.click()

    relay = on_gui_thread(docs.controller.handle.summary_progress, cancel_after_first,
                          docs.relays)
    stopped = next_summary_outcome(
        qtbot, docs, lambda: docs.panel.create_requested.emit("valley", [str(folder)]))
    docs.controller.handle.summary_progress.disconnect(relay.receive)

    assert not docs.errors
    assert stopped.cancelled and not stopped.error
    assert 1 <= stopped.summarized < stopped.total == len(NOTES)
    assert not docs.panel.progress.running and docs.controller.summarizing is None
    assert docs.panel.progress.title.text().startswith("Stopped writing summaries")
    # What was written before the cancel is kept (the table reloads it from the store).
    qtbot.waitUntil(lambda: len(docs.panel.table.table_model.summaries()) == stopped.summarized)
    kept = docs.panel.table.table_model.summaries()

    assert docs.panel.summarize_button.isEnabled()
    finished = next_summary_outcome(qtbot, docs, docs.panel.summarize_button.click)
    assert not finished.cancelled and not finished.error
    assert finished.total == len(NOTES) - stopped.summarized  # only the ones still lacking
    qtbot.waitUntil(lambda: len(docs.panel.table.table_model.summaries())
                    == stopped.summarized + finished.summarized)
    after = docs.panel.table.table_model.summaries()
    assert all(after[path] == text for path, text in kept.items())
    assert not docs.panel.progress.running and not docs.errors
    # Asked again with nothing left to write: it says so, and starts no model.
    children = set(multiprocessing.active_children())
    nothing = next_summary_outcome(qtbot, docs, docs.panel.summarize_button.click)
    assert (nothing.total, nothing.cancelled, nothing.error) == (0, False, False)
    assert docs.panel.progress.counts.text() == "Every indexed document has a summary"
    assert set(multiprocessing.active_children()) == children


class HeldRun:
    """Holds the next real summary run at its start, on the summaries thread (a directly
    connected slot waits there), until `released` is set: a test acts while it is mid-way."""

    def __init__(self, docs: Docs) -> None:
        self.held, self.released = threading.Event(), threading.Event()
        docs.controller.handle.summary_progress.connect(self._hold,
                                                        Qt.ConnectionType.DirectConnection)

    def _hold(self, event: SummaryProgress) -> None:
        if event.stage == "started" and not self.held.is_set():
            self.held.set()
            self.released.wait(RUN_TIMEOUT_MS / 1000)


def test_a_click_on_a_collection_is_answered_while_summaries_run(
        qtbot: QtBot, open_docs: Callable[[], Docs], tmp_path: Path) -> None:
    """Summaries have a thread of their own: choosing a collection mid-run shows it at once
    (on the documents worker it waited for the whole run, minutes on a large collection)."""
    docs = open_docs()
    docs.panel.create_requested.emit("empty", [])
    qtbot.waitUntil(lambda: "empty" in docs.panel.collections.names())
    hold = HeldRun(docs)
    held, release = hold.held, hold.released
    handle = docs.controller.handle
    shown: list[str] = []
    on_gui_thread(handle.documents_changed, lambda name, _docs: shown.append(name),
                  docs.relays)
    folder = write_notes(tmp_path / "valley", list(NOTES))
    try:
        docs.panel.create_requested.emit("valley", [str(folder)])
        qtbot.waitUntil(held.is_set, timeout=RUN_TIMEOUT_MS)
        shown.clear()
        docs.panel.collections.select_name("empty")
        qtbot.waitUntil(lambda: "empty" in shown)
        assert docs.panel.current_collection() == "empty"
        assert docs.controller.summarizing == "valley"  # the run is still held mid-way
    finally:
        release.set()
    outcome = next_summary_outcome(qtbot, docs) if docs.controller.summarizing else \
        docs.controller.last_summary_outcome
    assert outcome is not None and outcome.collection == "valley"
    assert not outcome.cancelled and outcome.total == len(NOTES)
    assert not docs.errors


def test_a_summary_run_stopped_by_a_removal_goes_on_after_it(
        qtbot: QtBot, open_docs: Callable[[], Docs], tmp_path: Path) -> None:
    """Removing something stops the summary run in progress (it gives way to any change);
    no index run follows to ask for it again, so the controller does, after the removal."""
    docs = open_docs()
    docs.panel.create_requested.emit("empty", [])
    qtbot.waitUntil(lambda: "empty" in docs.panel.collections.names())
    hold = HeldRun(docs)
    held, release = hold.held, hold.released
    handle = docs.controller.handle
    outcomes: list[SummaryOutcome] = []
    on_gui_thread(handle.summarizing_finished, outcomes.append, docs.relays)
    folder = write_notes(tmp_path / "valley", list(NOTES))
    try:
        docs.panel.create_requested.emit("valley", [str(folder)])
        qtbot.waitUntil(lambda: held.is_set() and docs.controller.summarizing == "valley",
                        timeout=RUN_TIMEOUT_MS)
        docs.panel.remove_collection_requested.emit("empty")
    finally:
        release.set()
    qtbot.waitUntil(lambda: docs.panel.collections.names() == ["valley"])
    qtbot.waitUntil(lambda: len(outcomes) == 2, timeout=RUN_TIMEOUT_MS)
    stopped, resumed = outcomes
    assert stopped.collection == resumed.collection == "valley"
    assert stopped.cancelled and stopped.summarized == 0
    assert not resumed.cancelled and not resumed.error and resumed.total == len(NOTES)
    qtbot.waitUntil(lambda: len(docs.panel.table.table_model.summaries())
                    == resumed.summarized)
    assert not docs.errors


def test_an_index_run_keeps_the_progress_area_while_a_summary_run_overlaps_it(
        qtbot: QtBot, open_docs: Callable[[], Docs]) -> None:
    """A summary run asked for before a queued index run started can overlap it (two threads):
    the bar shows the index run, then the summary run again. The workers' events are sent
    here in the one order that is hard to bring about on purpose."""
    docs = open_docs()
    handle, progress = docs.controller.handle, docs.panel.progress
    handle.indexing_started.emit("course")
    handle.summarizing_started.emit("notes")
    handle.summary_progress.emit(SummaryProgress("summarized", 1, 3, "/notes/a.txt", "A."))
    assert progress.title.text() == "Indexing “course”" and progress.running
    handle.finished.emit(IndexOutcome("course", 2, 0, 0, 9, False, 1.0))
    assert progress.title.text() == "Indexed “course”"
    handle.summary_progress.emit(SummaryProgress("summarized", 2, 3, "/notes/b.txt", "B."))
    assert progress.title.text() == "Writing summaries for “notes”" and progress.running
    assert progress.bar.value() == 2 and progress.bar.maximum() == 3
    handle.indexing_started.emit("course")  # an index run again, then the summary run ends
    handle.summarizing_finished.emit(SummaryOutcome("notes", 3, 0, 3, False, 3.0))
    assert progress.title.text() == "Indexing “course”" and progress.running
    assert docs.controller.summarizing is None
    assert docs.controller.last_summary_outcome is not None
    handle.finished.emit(IndexOutcome("course", 0, 2, 0, 9, False, 1.0))
    assert progress.title.text() == "Indexed “course”" and not progress.running


def test_the_choice_to_summarize_after_indexing_is_remembered(
        qtbot: QtBot, open_docs: Callable[[], Docs], glassbox_home: Path) -> None:
    docs = open_docs()
    assert docs.panel.auto_summaries.isChecked()
    docs.panel.auto_summaries.click()
    assert not docs.controller.auto_summaries
    again = DocumentsPanel()
    qtbot.addWidget(again)
    controller = DocumentsController(again, lambda m: None)
    try:
        assert not again.auto_summaries.isChecked() and not controller.auto_summaries
    finally:
        controller.stop()


def test_a_missing_model_is_a_clear_message_and_indexing_is_untouched(
        qtbot: QtBot, open_docs: Callable[[], Docs], tmp_path: Path) -> None:
    model = write_gguf(tmp_path / "gone-Q8_0.gguf")
    registry = ModelRegistry()
    registry.set_default(registry.import_file(model, copy=False).name)
    model.unlink()  # the default model's file went away
    docs = open_docs()
    folder = write_notes(tmp_path / "notes", ["lanterns.txt"])
    outcome = next_summary_outcome(
        qtbot, docs, lambda: docs.panel.create_requested.emit("notes", [str(folder)]))

    assert outcome.error and outcome.summarized == 0
    qtbot.waitUntil(lambda: bool(docs.errors))
    assert "Model file not found" in docs.errors[0] and str(model) in docs.errors[0]
    assert docs.panel.progress.title.text() == "Could not write summaries for “notes”"
    assert not docs.panel.progress.running
    assert docs.panel.table.statuses() == {"lanterns.txt": "indexed"}
    assert docs.panel.table.table_model.summaries() == {}
    # The next index run does not try (and fail, and say so) again on its own.
    failed, indexed = docs.controller.last_summary_outcome, docs.controller.last_outcome
    docs.panel.reindex_button.click()
    qtbot.waitUntil(lambda: docs.controller.last_outcome is not indexed,
                    timeout=RUN_TIMEOUT_MS)
    # A job queued on the summaries thread now runs after any summary run that was asked for.
    passed: list[object] = []
    docs.controller.handle.summary_jobs.call(lambda _ctx: None, on_done=passed.append)
    qtbot.waitUntil(lambda: bool(passed), timeout=RUN_TIMEOUT_MS)
    assert docs.controller.last_summary_outcome is failed and len(docs.errors) == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SCHED_IDLE is Linux's")
def test_the_summary_engine_runs_at_the_idle_priority(glassbox_home: Path) -> None:
    """Summaries are background work: their engine child gives the CPU to a chat reply."""
    from core.api import start_summary_engine

    write_settings(n_ctx=TEST_N_CTX)
    engine = start_summary_engine()
    try:
        assert engine.pid is not None
        tids = [int(t) for t in os.listdir(f"/proc/{engine.pid}/task")]
        assert tids and all(os.sched_getscheduler(t) == os.SCHED_IDLE for t in tids)
    finally:
        engine.close()
