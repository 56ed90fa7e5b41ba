"""The Models tab on real worker threads, real GGUF files and a local stand-in for the hub."""

from __future__ import annotations

import multiprocessing
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from guitools import STARTUP_TIMEOUT_MS, OpenWindow, send_and_wait, stored_messages
from PySide6.QtCore import QMimeData, Qt, QUrl
from pytestqt.qtbot import QtBot
from qt_waits import waiting_for

from core.config import database_path
from core.models.bundled import default_chat_model
from core.models.download import DownloadProgress, partial_downloads
from core.models.registry import ModelEntry, ModelRegistry, models_dir, partial_dir
from core.store import ChatStore
from desktop.models_library_controller import ModelsLibraryController
from desktop.models_worker import download_key
from ui.download_list_view import CANCELLED, DONE, FAILED, PAUSED
from ui.models_panel import ModelsPanel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from fake_hub import FakeHub, serving_hub  # noqa: E402 (shared with the core's model tests)
from gguf_files import write_gguf  # noqa: E402

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"  # git-ignored; look at them
WAIT_MS = 30_000
REPO = "tester/Tiny-GGUF"
FILE = "tiny-Q8_0.gguf"


@dataclass
class Models:
    panel: ModelsPanel
    controller: ModelsLibraryController
    events: list[DownloadProgress]


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A local hub for this test; HF_ENDPOINT points at it, never at the network."""
    yield from serving_hub(monkeypatch)


@pytest.fixture
def open_models(qtbot: QtBot, hub: FakeHub) -> Iterator[Callable[[], Models]]:
    """The panel and its controller on their own, as the window wires them."""
    opened: list[Models] = []
    threads_before = set(threading.enumerate())
    children_before = set(multiprocessing.active_children())

    def _open() -> Models:
        panel = ModelsPanel()
        qtbot.addWidget(panel)
        panel.resize(1150, 720)
        panel.show()
        qtbot.waitExposed(panel)
        models = Models(panel, ModelsLibraryController(panel), [])
        models.controller.handle.transfers.download_progress.connect(models.events.append)
        models.controller.start()
        qtbot.waitUntil(lambda: models.controller.ready
                        and models.controller.hardware is not None, timeout=WAIT_MS)
        opened.append(models)
        return models

    yield _open
    for models in opened:
        models.controller.stop()
        assert not any(t.isRunning() for t in models.controller.threads())
    assert set(multiprocessing.active_children()) == children_before
    leftover = [t for t in set(threading.enumerate()) - threads_before
                if t.is_alive() and not isinstance(t, threading._DummyThread)
                and "process_request" not in t.name]  # the hub's, ended by its fixture
    assert not leftover, f"Python threads left running: {leftover}"


def padded_gguf(folder: Path, name: str = FILE) -> Path:
    """A valid GGUF with a few MB of trailing bytes, so a download takes many chunks."""
    folder.mkdir(parents=True, exist_ok=True)
    path = write_gguf(folder / name)
    with path.open("ab") as f:
        f.write(bytes(range(256)) * 12_000)  # readers ignore bytes after the tensors
    return path


def downloaded() -> list[ModelEntry]:
    return [e for e in ModelRegistry().models() if e.source == "downloaded"]


def wait_row(qtbot: QtBot, models: Models, key: str, state: str) -> None:
    rows = models.panel.downloads.rows
    qtbot.waitUntil(lambda: key in rows and rows[key].state == state, timeout=WAIT_MS)


def search_and_list(qtbot: QtBot, models: Models, query: str, repo: str) -> None:
    hub_view = models.panel.hub
    models.panel.tabs.setCurrentIndex(1)
    hub_view.query.setText(query)
    qtbot.mouseClick(hub_view.search_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: hub_view.results.rowCount() > 0, timeout=WAIT_MS)
    hub_view.select_repo(repo)
    qtbot.waitUntil(lambda: hub_view.files.rowCount() > 0, timeout=WAIT_MS)


def test_search_lists_files_with_the_recommended_one_marked(
        qtbot: QtBot, hub: FakeHub, open_models: Callable[[], Models], tmp_path: Path) -> None:
    hub.add(REPO, FILE, padded_gguf(tmp_path))
    hub.add(REPO, "tiny-Q4_K_M.gguf", write_gguf(tmp_path / "tiny-Q4_K_M.gguf"))
    hub.add("other/Unrelated-GGUF", "x.gguf", write_gguf(tmp_path / "x.gguf"))
    models = open_models()
    search_and_list(qtbot, models, "tiny", REPO)
    hub_view = models.panel.hub
    assert hub_view.results.rowCount() == 1
    files = [hub_view.files.item(r, 0).text() for r in range(hub_view.files.rowCount())]
    assert sorted(files) == sorted([FILE, "tiny-Q4_K_M.gguf"])
    best = hub_view.recommended_row()
    assert best is not None and hub_view.files.item(best, 1).text() == "Q8_0"  # best quality
    assert hub_view.selected_file().filename == FILE  # preselected: one click downloads it
    assert "apache-2.0" in hub_view.repo_label.text()
    # A repository that is gone: said in place, not a crash.
    hub_view.query.setText("nothing-matches-this")
    qtbot.mouseClick(hub_view.search_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "No GGUF repositories" in hub_view.state.text(), timeout=WAIT_MS)


def test_a_broken_connection_resumes_and_the_model_is_registered(
        qtbot: QtBot, hub: FakeHub, open_models: Callable[[], Models], tmp_path: Path) -> None:
    source = padded_gguf(tmp_path)
    hub.add(REPO, FILE, source, drop_after=1_000_000)
    models = open_models()
    search_and_list(qtbot, models, "tiny", REPO)
    qtbot.mouseClick(models.panel.hub.download_button, Qt.MouseButton.LeftButton)
    wait_row(qtbot, models, download_key(REPO, FILE), DONE)
    stages = [e.stage for e in models.events]
    assert "retrying" in stages and stages[-1] == "done"
    ranges = [r for _method, path, r in hub.requests if "/resolve/" in path]
    assert ranges[0] is None and ranges[1] is not None and ranges[1].startswith("bytes=")
    [entry] = downloaded()
    assert Path(entry.path).read_bytes() == source.read_bytes()
    qtbot.waitUntil(lambda: entry.name in models.panel.library.names(), timeout=WAIT_MS)
    assert models.panel.library.selected_name() == entry.name  # selected on arrival
    assert "Verified" in models.panel.downloads.rows[download_key(REPO, FILE)].detail.text()


def test_a_wrong_checksum_is_refused_and_nothing_is_registered(
        qtbot: QtBot, hub: FakeHub, open_models: Callable[[], Models], tmp_path: Path) -> None:
    hub.add(REPO, FILE, padded_gguf(tmp_path), advertised_sha256="0" * 64)
    models = open_models()
    models.controller.download(REPO, FILE)  # as the starter list's one-click button does
    key = download_key(REPO, FILE)
    wait_row(qtbot, models, key, FAILED)
    message = models.panel.error_banner.message()
    assert "failed its checksum" in message and "nothing was added" in message
    assert "checksum" in models.panel.downloads.rows[key].detail.text()
    assert downloaded() == []
    assert list(models_dir().glob("*.gguf")) == [] and list(partial_dir().iterdir()) == []


def test_pause_then_resume_finishes_the_download(
        qtbot: QtBot, hub: FakeHub, open_models: Callable[[], Models], tmp_path: Path) -> None:
    source = padded_gguf(tmp_path)
    hub.add(REPO, FILE, source)
    models = open_models()
    models.controller.download(REPO, FILE)
    key = download_key(REPO, FILE)
    row = models.panel.downloads.rows[key]
    # Pressed at once: the worker is still asking for the listing, so it stops after the
    # first chunk it receives.
    qtbot.mouseClick(row.pause_button, Qt.MouseButton.LeftButton)
    wait_row(qtbot, models, key, PAUSED)
    assert row.pause_button.text() == "Resume"
    [partial] = partial_downloads()
    assert 0 < partial.bytes_done < source.stat().st_size
    assert downloaded() == []
    qtbot.mouseClick(row.pause_button, Qt.MouseButton.LeftButton)
    wait_row(qtbot, models, key, DONE)
    ranges = [r for _method, path, r in hub.requests if "/resolve/" in path]
    assert ranges[-1] == f"bytes={partial.bytes_done}-"
    [entry] = downloaded()
    assert Path(entry.path).read_bytes() == source.read_bytes()


def test_cancel_stops_the_download_and_deletes_what_arrived(
        qtbot: QtBot, hub: FakeHub, open_models: Callable[[], Models], tmp_path: Path) -> None:
    source = padded_gguf(tmp_path)
    hub.add(REPO, FILE, source)
    models = open_models()
    models.controller.download(REPO, FILE)
    key = download_key(REPO, FILE)
    row = models.panel.downloads.rows[key]
    assert row.cancel_button.isVisible()
    # Pressed at once, while the worker asks for the listing: it stops after its first chunk.
    qtbot.mouseClick(row.cancel_button, Qt.MouseButton.LeftButton)
    wait_row(qtbot, models, key, CANCELLED)
    assert "deleted" in row.detail.text()
    assert not row.cancel_button.isVisible() and not row.pause_button.isVisible()
    assert row.dismiss_button.isVisible()
    assert partial_downloads() == [] and downloaded() == []
    assert not any(p.is_file() for p in partial_dir().rglob("*")), "bytes left behind"
    assert not any(p.name == FILE for p in models_dir().rglob("*"))
    qtbot.mouseClick(row.dismiss_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: key not in models.panel.downloads.rows, timeout=WAIT_MS)


def test_import_a_good_file_and_a_corrupt_one(
        qtbot: QtBot, open_models: Callable[[], Models], tmp_path: Path) -> None:
    good = write_gguf(tmp_path / "my-model-Q8_0.gguf")
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(good.read_bytes()[:600])  # a header whose tensors are cut off
    models = open_models()
    before = len(models.controller.entries)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(good))])
    assert models.panel.handle_drop(mime)  # drag and drop, copied in (the default)
    qtbot.waitUntil(lambda: len(models.controller.entries) == before + 1, timeout=WAIT_MS)
    entry = models.panel.library.selected_entry()
    assert entry is not None and entry.source == "imported" and entry.managed
    assert entry.facts.quantization == "F32" and entry.facts.has_chat_template
    assert Path(entry.path).parent == models_dir()
    models.panel.import_paths([str(bad)])
    qtbot.waitUntil(lambda: models.panel.error_banner.message() != "", timeout=WAIT_MS)
    assert "broken.gguf" in models.panel.error_banner.message()
    assert [e.name for e in ModelRegistry().models() if e.source == "imported"] == [entry.name]
    assert list(partial_dir().iterdir()) == []


def test_remove_asks_first_and_set_default(
        qtbot: QtBot, open_models: Callable[[], Models], tmp_path: Path) -> None:
    models = open_models()
    panel = models.panel
    panel.copy_check.setChecked(True)
    panel.import_paths([str(write_gguf(tmp_path / "keeper-Q8_0.gguf"))])
    qtbot.waitUntil(lambda: "keeper-Q8_0" in panel.library.names(), timeout=WAIT_MS)
    panel.library.select_name("keeper-Q8_0")
    qtbot.mouseClick(panel.default_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ModelRegistry().default().name == "keeper-Q8_0", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: panel.library.item(panel.library.names().index("keeper-Q8_0"),
                                               0).text().startswith("★"), timeout=WAIT_MS)
    copy = Path(panel.library.entry("keeper-Q8_0").path)
    qtbot.mouseClick(panel.remove_button, Qt.MouseButton.LeftButton)
    assert panel.confirm.isVisible() and "delete its file" in panel.confirm.label.text()
    assert copy.is_file() and "keeper-Q8_0" in [e.name for e in ModelRegistry().models()]
    qtbot.mouseClick(panel.confirm.confirm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "keeper-Q8_0" not in panel.library.names(), timeout=WAIT_MS)
    assert not copy.exists()
    assert ModelRegistry().default().source == "bundled"
    panel.library.selectRow(0)  # the bundled model cannot be removed
    assert not panel.remove_button.isEnabled()


def test_the_fit_box_gives_a_verdict_and_settings_are_saved(
        qtbot: QtBot, open_models: Callable[[], Models]) -> None:
    models = open_models()
    panel = models.panel
    panel.library.selectRow(0)  # the bundled SmolLM2
    qtbot.waitUntil(lambda: panel.fit.verdict.text() != "", timeout=WAIT_MS)
    assert panel.fit.verdict.text().startswith(("Fits", "Tight", "Too big"))
    assert "threads" in panel.fit.hardware.text()
    before = panel.fit.bar.parts[1]  # the KV cache
    panel.load_settings.context.setValue(16384)
    assert panel.fit.bar.parts[1] > before
    panel.load_settings.kv_type.setCurrentIndex(1)  # q8_0: about half of f16
    assert panel.fit.bar.parts[1] < before * 4 * 0.6
    panel.load_settings.gpu_layers.setValue(0)
    panel.load_settings.flash_attn.setChecked(True)
    models.controller.stop()  # the saves are queued ahead of the shutdown
    store = ChatStore(database_path())
    try:
        assert store.settings.get("load") == {"gpu_layers": 0, "threads": 0, "flash_attn": True,
                                              "kv_type": "q8_0", "n_ctx": 16384}
        assert store.settings.get("n_ctx") is None  # the older row is replaced
    finally:
        store.close()


def test_chat_with_a_model_downloaded_from_the_hub(
        qtbot: QtBot, open_window: OpenWindow, hub: FakeHub) -> None:
    smol = default_chat_model()
    hub.add("tester/SmolLM2-GGUF", "SmolLM2-135M-Instruct-Q4_1.gguf", smol)
    window = open_window()
    assert window.library is not None
    window.tabs.setCurrentWidget(window.models_panel)
    models = Models(window.models_panel, window.library, [])
    search_and_list(qtbot, models, "smol", "tester/SmolLM2-GGUF")
    SCREENSHOTS.mkdir(exist_ok=True)
    window.grab().save(str(SCREENSHOTS / "models-download.png"))
    qtbot.mouseClick(models.panel.hub.download_button, Qt.MouseButton.LeftButton)
    wait_row(qtbot, models, download_key("tester/SmolLM2-GGUF",
                                         "SmolLM2-135M-Instruct-Q4_1.gguf"), DONE)
    [entry] = downloaded()
    qtbot.waitUntil(lambda: models.panel.library.selected_name() == entry.name,
                    timeout=WAIT_MS)
    qtbot.waitUntil(lambda: models.panel.fit.verdict.text() != "", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: entry.path in window.model_picker.paths(), timeout=WAIT_MS)
    models.panel.tabs.setCurrentIndex(0)
    window.grab().save(str(SCREENSHOTS / "models.png"))
    assert window.engine is not None
    with waiting_for(qtbot, window.engine.worker.model_loaded, timeout=STARTUP_TIMEOUT_MS) as ok:
        qtbot.mouseClick(models.panel.use_button, Qt.MouseButton.LeftButton)
    assert ok.args is not None and ok.args[0].path == entry.path
    assert window.tabs.currentIndex() == 0
    qtbot.waitUntil(lambda: window.model_picker.combo.currentData() == entry.path)
    send_and_wait(qtbot, window, "Say hello.")
    assert window.chats is not None and window.chats.current_chat_id is not None
    reply = stored_messages(window.chats.current_chat_id)[-1]
    assert reply.role == "assistant" and reply.content.strip()
