"""At start, the Documents tab re-makes collections chunked by older rules, with progress
(issue 17): the user does not have to know the rules changed."""

from __future__ import annotations

import sys
from pathlib import Path

from pytestqt.qtbot import QtBot

from core.rag.embed import default_embedder
from core.rag.library import DocumentLibrary, IndexProgress
from desktop.documents_controller import DocumentsController
from ui.documents_panel import DocumentsPanel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rag"))
from rag_files import write_corpus  # noqa: E402 (shared with the core's document tests)

INDEX_TIMEOUT_MS = 60_000


def test_outdated_collections_are_remade_when_the_tab_starts(qtbot: QtBot,
                                                             tmp_path: Path) -> None:
    write_corpus(tmp_path / "docs")
    with DocumentLibrary(embedder=default_embedder(), parse_time_limit_s=30) as lib:
        lib.add_paths("course", [tmp_path / "docs"])
        assert lib.index("course").indexed == 4
        with lib.store.conn:  # as if indexed by a Glassbox with older chunking rules
            lib.store.conn.execute("UPDATE rag_documents SET chunker = 1")
        assert lib.collection("course").outdated == 4

    panel = DocumentsPanel()
    qtbot.addWidget(panel)
    controller = DocumentsController(panel, lambda message: errors.append(message))
    errors: list[str] = []
    events: list[IndexProgress] = []
    controller.handle.progress.connect(events.append)
    controller.start()
    try:
        qtbot.waitUntil(lambda: controller.last_outcome is not None, timeout=INDEX_TIMEOUT_MS)
        outcome = controller.last_outcome
        assert outcome is not None and outcome.collection == "course"
        assert outcome.indexed == 4 and outcome.failed == 0
        assert any(e.stage == "embedding" for e in events)  # the progress bar saw it
        qtbot.waitUntil(lambda: bool(controller.collections)
                        and controller.collections[0].outdated == 0)
        assert not errors
    finally:
        controller.stop()
