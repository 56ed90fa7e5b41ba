"""Summaries in the Documents tab: the real bundled chat model writes them on the documents
worker thread after indexing (real files, real SQLite), the table shows them, Cancel keeps
what was written, and the GUI thread keeps turning its event loop meanwhile."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from guitools import TEST_N_CTX, write_settings
from PySide6.QtCore import QElapsedTimer, QSettings, Qt, QThread, QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.rag.embed import default_embedder
from core.rag.summary_types import SummaryProgress
from desktop.documents_controller import DocumentsController
from desktop.documents_worker import SummaryOutcome
from ui.documents_panel import DocumentsPanel

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
    opened: list[Docs] = []
    children_before = set(multiprocessing.active_children())
    threads_before = set(threading.enumerate())

    def _open() -> Docs:
        panel = DocumentsPanel()
        qtbot.addWidget(panel)
        panel.resize(1200, 560)
        panel.show()
        qtbot.waitExposed(panel)
        docs = Docs(panel, DocumentsController(panel, lambda m: docs.errors.append(m)))
        handle = docs.controller.handle
        handle.summary_progress.connect(
            lambda e: docs.emitters.add(QThread.currentThread()),
            Qt.ConnectionType.DirectConnection)
        handle.summary_progress.connect(docs.events.append)
        docs.controller.start()
        qtbot.waitUntil(lambda: docs.controller.ready)
        opened.append(docs)
        return docs

    yield _open
    for docs in opened:
        docs.controller.stop()
        assert not docs.controller.worker_thread.isRunning()
    assert set(multiprocessing.active_children()) == children_before, "an engine outlived it"
    leftover = [t for t in set(threading.enumerate()) - threads_before
                if t.is_alive() and not isinstance(t, threading._DummyThread)]
    assert not leftover, f"Python threads left running: {leftover}"


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

    docs.controller.handle.summary_progress.connect(on_progress)
    docs.controller.handle.summarizing_started.connect(lambda _name: meter.start())
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
    assert meter.ticks > 10 and meter.longest_ms < 1500, (meter.ticks, meter.longest_ms)
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
    shot(docs.panel, "documents-summaries.png")


def test_cancel_keeps_what_was_written_and_the_next_run_finishes(
        qtbot: QtBot, open_docs: Callable[[], Docs], tmp_path: Path) -> None:
    docs = open_docs()
    folder = write_notes(tmp_path / "valley", list(NOTES))

    def cancel_after_first(event: SummaryProgress) -> None:
        if event.stage == "summarized" and docs.panel.progress.cancel_button.isEnabled():
            docs.panel.progress.cancel_button.click()

    docs.controller.handle.summary_progress.connect(cancel_after_first)
    stopped = next_summary_outcome(
        qtbot, docs, lambda: docs.panel.create_requested.emit("valley", [str(folder)]))
    docs.controller.handle.summary_progress.disconnect(cancel_after_first)

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
