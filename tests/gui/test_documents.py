"""The Documents tab on a real worker thread, the real embedding model and real files."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from documents_harness import DocumentsHarness
from guitools import OpenWindow
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.rag.embed import default_embedder
from core.rag.library import IndexProgress
from desktop.documents_controller import DocumentsController
from desktop.documents_worker import IndexOutcome
from ui.document_table_view import NAME, PASSAGES, PROBLEM, STATUS
from ui.documents_panel import DocumentsPanel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rag"))
from rag_files import write_corpus  # noqa: E402 (shared with the core's document tests)

INDEX_TIMEOUT_MS = 60_000  # the first run imports torch and loads the embedding model
# Git-ignored: look at it, and copy it to resources/screenshots/ when the look changes.
SCREENSHOT = Path(__file__).resolve().parents[2] / "screenshots" / "documents.png"


@dataclass
class Docs:
    panel: DocumentsPanel
    controller: DocumentsController
    errors: list[str] = field(default_factory=list)
    events: list[IndexProgress] = field(default_factory=list)


@pytest.fixture(scope="module", autouse=True)
def embedder_warm() -> None:
    """Load and run the model once, so each test's waits measure indexing, not loading torch.
    (The embedder turns off tqdm's monitor thread, so no thread outlives a first encode.)"""
    default_embedder().encode(["warm up"])


@pytest.fixture
def open_docs(qtbot: QtBot) -> Iterator[Callable[[], Docs]]:
    """The panel and its controller on their own, as the window wires them."""
    harness = DocumentsHarness(qtbot, (1100, 640))

    def _open() -> Docs:
        errors: list[str] = []
        events: list[IndexProgress] = []
        panel, controller = harness.open(
            errors, lambda c: c.handle.progress.connect(events.append))
        return Docs(panel, controller, errors, events)

    yield _open
    harness.close()


def write_broken(folder: Path) -> None:
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not really a pdf")
    (folder / "latin1.txt").write_bytes("Café au lait, déjà vu.".encode("latin-1"))


def file_mime(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def drop(panel: DocumentsPanel, mime: QMimeData) -> None:
    """Deliver a drag-enter and a drop as the platform would after a real drag."""
    pos = QPointF(panel.rect().center())
    action = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(pos, action, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(panel, enter)
    assert enter.isAccepted()
    event = QDropEvent(pos, action, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(panel, event)
    assert event.isAccepted()


def settled(qtbot: QtBot, docs: Docs, names: set[str] | None = None) -> None:
    """No run going on and the table shows every file with a final status."""
    def done() -> bool:
        shown = docs.panel.table.statuses()
        return (not docs.controller.busy and bool(shown) and "pending" not in shown.values()
                and (names is None or set(shown) == names))

    qtbot.waitUntil(done, timeout=INDEX_TIMEOUT_MS)


def cell(docs: Docs, name: str, column: int, role: int = Qt.ItemDataRole.DisplayRole) -> str:
    model = docs.panel.table.table_model
    row = [model.index(r, NAME).data() for r in range(model.rowCount())].index(name)
    return str(model.index(row, column).data(role))


def run(qtbot: QtBot, docs: Docs, action: Callable[[], object]) -> IndexOutcome:
    """Do `action` and wait until the window has shown the end of the run it starts. (Not
    qtbot.waitSignal: it would hear the worker's signal on the worker's thread, before the
    window has.)"""
    before = docs.controller.last_outcome
    action()
    qtbot.waitUntil(lambda: docs.controller.last_outcome is not before,
                    timeout=INDEX_TIMEOUT_MS)
    outcome = docs.controller.last_outcome
    assert outcome is not None
    return outcome


def create_with(qtbot: QtBot, docs: Docs, paths: list[Path], name: str) -> None:
    """Add paths with no collection selected: the panel asks for a name, then indexes."""
    docs.panel.add_paths([str(p) for p in paths])
    assert docs.panel.name_view.isVisible()
    docs.panel.name_view.editor.setText(name)
    run(qtbot, docs, lambda: qtbot.mouseClick(docs.panel.name_view.create_button,
                                              Qt.MouseButton.LeftButton))


def test_a_dropped_folder_is_indexed_and_broken_files_show_why(
        qtbot: QtBot, open_docs: Callable[[], Docs], tmp_path: Path) -> None:
    docs = open_docs()
    panel = docs.panel
    assert panel.stack.currentIndex() == 0  # the welcome page tells a new user what to do
    folder = tmp_path / "docs"
    write_corpus(folder)
    write_broken(folder)

    drop(panel, file_mime(folder))
    assert panel.name_view.isVisible() and panel.name_view.editor.text() == "docs"
    run(qtbot, docs, panel.name_view.accept)
    settled(qtbot, docs)

    assert [e.stage for e in docs.events][0] == "started"
    assert docs.events[-1].stage == "finished"
    assert docs.events[-1].files_done == docs.events[-1].files_total == 6
    assert panel.progress.bar.value() == panel.progress.bar.maximum() == 6
    assert panel.table.statuses() == {
        "atlas.pdf": "indexed", "broken.pdf": "failed", "guide.md": "indexed",
        "latin1.txt": "failed", "notes.txt": "indexed", "sampling.html": "indexed"}
    assert cell(docs, "atlas.pdf", PASSAGES) == "3"
    assert cell(docs, "atlas.pdf", STATUS) == "Indexed"
    assert cell(docs, "broken.pdf", STATUS) == "Failed"
    assert "damaged" in cell(docs, "broken.pdf", PROBLEM)
    assert "UTF-8" in cell(docs, "latin1.txt", PROBLEM)
    assert "UTF-8" in cell(docs, "latin1.txt", NAME, Qt.ItemDataRole.ToolTipRole)
    assert panel.collections.names() == ["docs"]
    passages = sum(c.chunks for c in docs.controller.collections)
    assert panel.collections.summaries() == [f"6 documents · {passages} passages · 2 failed"]
    assert panel.retry_button.isEnabled()
    assert "Indexed" in panel.progress.title.text() and "2 failed" in panel.progress.counts.text()

    # Dropping a file now adds it to the selected collection, and indexes only that file.
    extra = tmp_path / "extra.md"
    extra.write_text("# Extra\nA page about lighthouses and their keepers.\n", encoding="utf-8")
    outcome = run(qtbot, docs, lambda: drop(panel, file_mime(extra)))
    assert (outcome.indexed, outcome.skipped) == (1, 6)  # the failed files are not retried
    settled(qtbot, docs)
    assert panel.table.statuses()["extra.md"] == "indexed"

    # Retry failed tries the two broken files again (they are still broken).
    outcome = run(qtbot, docs, lambda: qtbot.mouseClick(panel.retry_button,
                                                        Qt.MouseButton.LeftButton))
    assert (outcome.failed, outcome.indexed) == (2, 0)

    # The folder is watched: a file saved there is indexed without a click.
    (folder / "late.md").write_text("# Late\nA page written after the folder was added.\n",
                                    encoding="utf-8")
    qtbot.waitUntil(lambda: docs.panel.table.statuses().get("late.md") == "indexed",
                    timeout=INDEX_TIMEOUT_MS)
    assert docs.errors == []


def test_cancel_stops_midway_and_reindex_does_only_the_rest(
        qtbot: QtBot, open_docs: Callable[[], Docs], tmp_path: Path) -> None:
    docs = open_docs()
    panel = docs.panel
    folder = tmp_path / "many"
    folder.mkdir()
    total = 16  # each takes a tenth of a second or more: the cancel lands well before the end
    for i in range(total):
        body = " ".join(f"Paragraph {j} of note {i} talks about topic {i * j % 97} in detail."
                        for j in range(40))
        (folder / f"note-{i:02d}.md").write_text(f"# Note {i}\n\n{body}\n", encoding="utf-8")

    docs.panel.add_paths([str(folder)])
    docs.panel.name_view.editor.setText("many")

    def start_then_cancel() -> None:
        docs.panel.name_view.accept()
        qtbot.waitUntil(lambda: any(e.stage == "indexed" for e in docs.events),
                        timeout=INDEX_TIMEOUT_MS)
        assert panel.progress.cancel_button.isVisible()
        assert f"/ {total} files" in panel.progress.counts.text()
        panel.table.setFocus()
        qtbot.keyClick(panel.table, Qt.Key.Key_Escape)  # Esc cancels while the panel has focus

    first = run(qtbot, docs, start_then_cancel)
    assert first.cancelled
    assert 1 <= first.indexed < total
    assert docs.events[-1].stage == "cancelled"
    assert "Stopped" in panel.progress.title.text()
    qtbot.waitUntil(lambda: list(panel.table.statuses().values()).count("indexed")
                    == first.indexed)
    assert "pending" in panel.table.statuses().values()
    assert f"{total - first.indexed} waiting" in panel.collections.summaries()[0]

    second = run(qtbot, docs, lambda: qtbot.mouseClick(panel.reindex_button,
                                                       Qt.MouseButton.LeftButton))
    assert not second.cancelled
    assert (second.indexed, second.skipped) == (total - first.indexed, first.indexed)
    settled(qtbot, docs)
    assert set(panel.table.statuses().values()) == {"indexed"}


def test_removing_documents_and_collections_updates_the_views(
        qtbot: QtBot, open_docs: Callable[[], Docs], tmp_path: Path) -> None:
    docs = open_docs()
    panel = docs.panel
    folder = tmp_path / "docs"
    write_corpus(folder)
    single = tmp_path / "single.txt"
    single.write_text("Only one file lives here.", encoding="utf-8")
    create_with(qtbot, docs, [folder], "course")
    settled(qtbot, docs, {"atlas.pdf", "guide.md", "notes.txt", "sampling.html"})
    panel.name_view.ask()  # "New collection…" without files, then add a file to it
    panel.name_view.editor.setText("scratch")
    panel.name_view.accept()
    qtbot.waitUntil(lambda: panel.collections.names() == ["course", "scratch"]
                    and panel.current_collection() == "scratch")
    assert panel.stack.currentIndex() == 1  # the empty collection says how to add files
    run(qtbot, docs, lambda: drop(panel, file_mime(single)))
    settled(qtbot, docs, {"single.txt"})

    panel.collections.select_name("course")
    settled(qtbot, docs, {"atlas.pdf", "guide.md", "notes.txt", "sampling.html"})
    panel.table.select_paths([str(folder / "notes.txt"), str(folder / "guide.md")])
    qtbot.mouseClick(panel.remove_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: set(panel.table.statuses()) == {"atlas.pdf", "sampling.html"})
    qtbot.waitUntil(lambda: panel.collections.summaries()[0].startswith("2 documents"))

    panel.table.clearSelection()
    qtbot.mouseClick(panel.remove_button, Qt.MouseButton.LeftButton)  # no rows: the collection
    assert panel.confirm.isVisible() and "course" in panel.confirm.label.text()
    qtbot.mouseClick(panel.confirm.confirm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.collections.names() == ["scratch"])
    qtbot.waitUntil(lambda: panel.table.statuses() == {"single.txt": "indexed"})
    assert panel.current_collection() == "scratch"
    assert docs.errors == []


def test_a_list_sent_before_a_new_collection_exists_keeps_it_selected(
        qtbot: QtBot, open_docs: Callable[[], Docs]) -> None:
    """The worker's list from before the creation (the end of an index run, a folder change)
    can reach the window after the user asked for a new collection: the new one must still
    be selected once it is listed (this raced in CI)."""
    docs = open_docs()
    panel = docs.panel
    for name in ("course", "scratch"):
        panel.name_view.ask()
        panel.name_view.editor.setText(name)
        stale = list(docs.controller.collections)  # the worker's list before this one
        panel.name_view.accept()
        docs.controller.handle.collections_changed.emit(stale)  # heard before the new list
        qtbot.waitUntil(lambda name=name: name in panel.collections.names()
                        and panel.current_collection() == name)
    assert panel.collections.names() == ["course", "scratch"]
    panel.create_requested.emit("   ", [])  # no name: an error, then a list selects one
    qtbot.waitUntil(lambda: bool(docs.errors))
    assert "needs a name" in docs.errors[0]
    docs.controller.handle.collections_changed.emit(list(docs.controller.collections))
    assert panel.current_collection() == "course"


def test_the_documents_tab_survives_a_restart(qtbot: QtBot, open_window: OpenWindow,
                                              tmp_path: Path) -> None:
    window = open_window(wait_ready=False)
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.documents
    folder = tmp_path / "Course notes"
    write_corpus(folder)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not really a pdf")
    for topic in ("Embeddings", "Chunking", "Retrieval"):
        (folder / f"{topic.lower()}.md").write_text(
            f"# {topic}\n{topic} is one step of answering from your own documents.\n",
            encoding="utf-8")
    controller = window.documents_controller
    assert controller is not None
    qtbot.waitUntil(lambda: window.documents.stack.currentIndex() == 0)
    window.documents.add_paths([str(folder)])
    window.documents.name_view.accept()
    qtbot.waitUntil(lambda: controller.last_outcome is not None, timeout=INDEX_TIMEOUT_MS)
    panel = window.documents
    qtbot.waitUntil(lambda: len(panel.table.statuses()) == 8
                    and "pending" not in panel.table.statuses().values())
    shown = panel.table.statuses()
    summaries = panel.collections.summaries()
    assert shown["broken.pdf"] == "failed" and summaries[0].endswith("1 failed")

    window.resize(1100, 640)
    panel.table.selectRow(list(shown).index("guide.md"))
    qtbot.wait(200)  # let the layout settle before the picture is taken
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(SCREENSHOT))
    window.close()

    again = open_window(wait_ready=False)
    qtbot.waitUntil(lambda: again.documents.table.statuses() == shown,
                    timeout=INDEX_TIMEOUT_MS)
    assert again.documents.collections.names() == ["Course notes"]
    assert again.documents.collections.summaries() == summaries
    assert again.documents.current_collection() == "Course notes"
