"""The Embedding maps and Quantization lab panels with their controllers, on the real parts:
the embedding model, a real indexed collection, SmolLM2's GGUF and llama.cpp's quantizer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from core.models.bundled import CHAT_MODEL_ID, default_chat_model
from core.models.quantize import lab_folder
from core.rag.embed import default_embedder
from core.rag.library import DocumentLibrary
from desktop.embedding_maps_controller import EmbeddingMapsController
from desktop.quant_lab_controller import QuantLabController
from ui.learn.embedding_maps_panel import EmbeddingMapsPanel
from ui.learn.quant_lab_panel import QuantLabPanel

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "screenshots"
SAMPLE_DOCS = ROOT / "resources" / "sample_docs"
WAIT_MS = 180_000  # the embedder's first load imports torch; the machine has two busy cores


def shoot(qapp: QApplication, widget: QWidget, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    widget.resize(1100, 720)
    widget.show()
    qapp.processEvents()
    path = SCREENSHOTS / f"{name}.png"
    assert widget.grab().save(str(path))
    return path


class Errors(list[str]):
    def __call__(self, message: str) -> None:
        self.append(message)


@pytest.fixture
def guide(glassbox_home: Path) -> None:
    """Three documents of the bundled guide indexed into this test's database."""
    with DocumentLibrary(embedder=default_embedder()) as library:
        library.add_paths("guide", [SAMPLE_DOCS / n for n in
                                    ("01-tokens.md", "02-embeddings.md", "05-retrieval.md")])
        assert library.index("guide").indexed == 3
        library.create_collection("empty")


@pytest.fixture
def maps(qtbot: QtBot, guide: None) -> Iterator[tuple[EmbeddingMapsPanel,
                                                      EmbeddingMapsController, Errors]]:
    panel = EmbeddingMapsPanel()
    qtbot.addWidget(panel)
    errors = Errors()
    model = {"path": str(default_chat_model())}
    controller = EmbeddingMapsController(panel, errors, lambda: model["path"])
    controller.model = model  # type: ignore[attr-defined]  (the test swaps it)
    controller.start()
    yield panel, controller, errors
    controller.stop()
    assert not controller.worker_thread.isRunning()


def test_sentence_map_heatmap_and_pairs(qtbot: QtBot, qapp: QApplication,
                                        maps: tuple[EmbeddingMapsPanel, EmbeddingMapsController,
                                                    Errors]) -> None:
    panel, controller, errors = maps
    view = panel.sentences
    assert len(view.lines()) == 10  # prefilled with the example set
    qtbot.mouseClick(view.compare_button, Qt.MouseButton.LeftButton)
    assert not view.compare_button.isEnabled()
    qtbot.waitUntil(lambda: view.result is not None and not controller.busy, timeout=WAIT_MS)
    assert view.result is not None and view.result.similarity.shape == (10, 10)
    assert view.heatmap.made and view.map.made and view.compare_button.isEnabled()
    assert "Most similar: 1 “The cat sat" in view.summary.text() or \
        "Most similar: 9" in view.summary.text()
    shoot(qapp, panel, "learn-embedding-maps-sentences")
    view.set_text(["just one line"])
    qtbot.mouseClick(view.compare_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(errors) and not controller.busy, timeout=WAIT_MS)
    assert "at least two sentences" in errors[-1] and view.compare_button.isEnabled()


def test_collection_map_neighbours_and_chunk(qtbot: QtBot, qapp: QApplication,
                                             maps: tuple[EmbeddingMapsPanel,
                                                         EmbeddingMapsController,
                                                         Errors]) -> None:
    panel, controller, errors = maps
    view = panel.documents
    panel.setCurrentWidget(view)
    # Only collections with chunks are offered.
    qtbot.waitUntil(lambda: view.collection_box.count() == 1, timeout=WAIT_MS)
    assert view.collection_box.itemText(0) == "guide"
    view.query.setText("How are documents split into chunks for retrieval?")
    view.neighbours_box.setValue(4)
    qtbot.mouseClick(view.map_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.result is not None and not controller.busy, timeout=WAIT_MS)
    result = view.result
    assert result is not None and result.neighbours is not None
    assert view.neighbours.count() == 4
    assert "05-retrieval.md" in view.neighbours.item(0).text()
    assert len(result.documents) == 3 and "3 documents" in view.status.text()
    view.neighbours.itemClicked.emit(view.neighbours.item(0))
    qtbot.waitUntil(lambda: view.shown_chunk is not None, timeout=WAIT_MS)
    assert view.shown_chunk is not None
    assert view.shown_chunk.chunk_id == int(result.chunk_ids[result.neighbours[0]])
    assert "05-retrieval.md" in view.chunk.toPlainText()
    shown = " ".join(view.chunk.toPlainText().split())
    assert " ".join(view.shown_chunk.text.split())[:80] in shown
    # A click on a point of the map reads that chunk too (pyqtgraph's click signal, with the
    # spot under the mouse).
    scatter = next(item for item in view.plot.plot().listDataItems()
                   if getattr(item, "name", lambda: "")() == "02-embeddings.md")
    spot = scatter.points()[0]
    other = int(spot.data())
    assert result.documents[int(result.document[list(result.chunk_ids).index(other)])] \
        .endswith("02-embeddings.md")
    scatter.sigClicked.emit(scatter, [spot], None)
    qtbot.waitUntil(lambda: view.shown_chunk is not None and view.shown_chunk.chunk_id == other,
                    timeout=WAIT_MS)
    assert "02-embeddings.md" in view.chunk.toPlainText()
    path = shoot(qapp, panel, "learn-embedding-maps")
    assert path.stat().st_size > 10_000
    assert not errors


def test_token_neighbours_table_and_errors(qtbot: QtBot, qapp: QApplication,
                                           maps: tuple[EmbeddingMapsPanel,
                                                       EmbeddingMapsController,
                                                       Errors]) -> None:
    panel, controller, errors = maps
    view = panel.tokens
    panel.setCurrentWidget(view)
    view.word.setText("seven")
    qtbot.mouseClick(view.find_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.result is not None and not controller.busy, timeout=WAIT_MS)
    assert view.table.rowCount() == 20
    words = [view.table.item(r, 1).text().strip("·") for r in range(8)]
    assert sum(w in {"eight", "six", "nine", "five", "four", "three", "two", "ten", "twelve",
                     "eleven", "Seven", "seven"} for w in words) >= 5
    sims = [float(view.table.item(r, 3).text()) for r in range(20)]
    assert sims == sorted(sims, reverse=True)
    assert "SmolLM2" in view.status.text() and view.map.made
    shoot(qapp, panel, "learn-embedding-maps-tokens")
    # Double-click a neighbour: it becomes the word looked up next.
    first = view.result.neighbours[0] if view.result is not None else None
    assert first is not None and first.piece == " eight"
    view.table.cellDoubleClicked.emit(0, 1)
    qtbot.waitUntil(lambda: view.result is not None and view.result.word == " eight"
                    and not controller.busy, timeout=WAIT_MS)
    assert view.word.text() == "eight" and view.leading_space.isChecked()
    assert " seven" in [n.piece for n in view.result.neighbours]
    controller.model["path"] = None  # type: ignore[attr-defined]
    qtbot.mouseClick(view.find_button, Qt.MouseButton.LeftButton)
    assert errors and "Load a chat model first" in errors[-1]


@pytest.fixture
def lab(qtbot: QtBot) -> Iterator[tuple[QuantLabPanel, QuantLabController, Errors]]:
    panel = QuantLabPanel()
    qtbot.addWidget(panel)
    errors = Errors()
    # Named as the window names the bundled model (ModelController.name_of_path).
    controller = QuantLabController(panel, errors, lambda: str(default_chat_model()),
                                    model_name=lambda _path: CHAT_MODEL_ID)
    controller.start()
    yield panel, controller, errors
    controller.stop()
    assert not controller.worker_thread.isRunning()


def test_quant_lab_quantizes_compares_imports_and_clears(
        qtbot: QtBot, qapp: QApplication,
        lab: tuple[QuantLabPanel, QuantLabController, Errors]) -> None:
    panel, controller, errors = lab
    assert panel.quant_type() == "Q2_K" and "lighthouse" in panel.text.toPlainText()
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert panel.cancel_button.isEnabled() and not panel.run_button.isEnabled()
    qtbot.waitUntil(lambda: panel.result is not None and not controller.busy, timeout=WAIT_MS)
    result = panel.result
    assert result is not None and not errors
    assert panel.table.rowCount() == 5
    assert panel.table.item(1, 1).text() == f"{result.perplexity_original:.2f}"
    assert result.perplexity_quantized > result.perplexity_original
    assert panel.strip.token_count == len(result.pieces) - 1
    assert len(panel.drift.curves["cosine"]) == 30
    assert panel.progress.value() == 100 and "Q3_K" in panel.copy_label.text()
    # Bigger divergence, stronger shade: the most divergent token is drawn the darkest.
    base = panel.strip.palette().base().color()
    worst = int(result.kl.argmax())
    best = int(result.kl.argmin())
    assert panel.strip.backgrounds[worst].lightness() != base.lightness()
    assert abs(panel.strip.backgrounds[worst].lightness() - base.lightness()) > \
        abs(panel.strip.backgrounds[best].lightness() - base.lightness())
    assert "top-1 flip" in panel.strip.tooltip_at(int(result.flips.argmax()))
    shoot(qapp, panel, "learn-quant-lab")
    with qtbot.waitSignal(controller.import_requested) as blocker:
        qtbot.mouseClick(panel.import_button, Qt.MouseButton.LeftButton)
    copy_path = Path(blocker.args[0])
    assert copy_path.is_file() and copy_path.parent == lab_folder()
    qtbot.mouseClick(panel.clear_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Lab cleared" in panel.status.text(), timeout=WAIT_MS)
    assert not copy_path.exists() and not panel.import_button.isEnabled()


def test_quant_lab_cancel_and_a_bad_model(qtbot: QtBot, tmp_path: Path,
                                          lab: tuple[QuantLabPanel, QuantLabController,
                                                     Errors]) -> None:
    panel, controller, errors = lab
    seen = threading.Event()
    # Cancel as soon as the first progress arrives: the child is working by then.
    panel.progress.valueChanged.connect(lambda _v: seen.set())
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(seen.is_set, timeout=WAIT_MS)
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not controller.busy, timeout=WAIT_MS)
    assert "Cancelled" in panel.status.text() and panel.run_button.isEnabled()
    assert panel.result is None and not errors
    assert not [p for p in lab_folder().iterdir() if p.name.endswith(".part")]
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\xff" * 32)
    panel.set_source(str(bad))
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(errors) and not controller.busy, timeout=WAIT_MS)
    assert "broken.gguf" in errors[-1] and panel.run_button.isEnabled()
    panel.set_source("")
    panel.text.setPlainText("   ")
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert "Type or paste a text" in errors[-1]
