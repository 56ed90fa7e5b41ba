"""*Find models on this computer* in the Models tab: the scan runs on its worker thread, lists
what Ollama laid out in a test home (and a bad file in a folder the user adds), and adding the
ticked model puts it in the library view, used where it is."""

from __future__ import annotations

import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.models.bundled import default_chat_model
from core.models.registry import ModelRegistry
from desktop.models_library_controller import ModelsLibraryController
from ui.model_scan_view import APP, ARCH, LIBRARY, NAME, QUANT
from ui.models_panel import ModelsPanel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
import scan_layouts as lay  # noqa: E402 (shared with the core's scan tests)

SHOTS = Path("/tmp/shots21")
WAIT_MS = 60_000


@pytest.fixture
def models_tab(qtbot: QtBot) -> Iterator[tuple[ModelsPanel, ModelsLibraryController]]:
    threads_before = set(threading.enumerate())
    panel = ModelsPanel()
    qtbot.addWidget(panel)
    panel.resize(1150, 640)
    panel.show()
    qtbot.waitExposed(panel)
    controller = ModelsLibraryController(panel)
    controller.start()
    qtbot.waitUntil(lambda: controller.ready, timeout=WAIT_MS)
    yield panel, controller
    controller.stop()
    assert not any(t.isRunning() for t in controller.threads())
    leftover = [t for t in set(threading.enumerate()) - threads_before
                if t.is_alive() and not isinstance(t, threading._DummyThread)]
    assert not leftover, f"Python threads left running: {leftover}"


def test_find_models_lists_them_and_adds_the_ticked_one_in_place(
        qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        models_tab: tuple[ModelsPanel, ModelsLibraryController]) -> None:
    home = tmp_path / "home"
    model = tmp_path / "smollm2.gguf"
    shutil.copyfile(default_chat_model(), model)  # its own file, not the bundled one
    digest = lay.sha256_of(model)
    lay.ollama(home, model, digest)
    blob = home / ".ollama" / "models" / "blobs" / f"sha256-{digest}"
    monkeypatch.setenv("HOME", str(home))  # where the scan looks for the apps' folders
    for name in ("OLLAMA_MODELS", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    panel, controller = models_tab
    assert panel.scan_button.isVisible()
    qtbot.mouseClick(panel.scan_button, Qt.MouseButton.LeftButton)
    dialog = controller.scan_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.rescan_button.isEnabled(), timeout=WAIT_MS)
    rows = {dialog.table.item(r, NAME).text(): r for r in range(dialog.table.rowCount())}
    assert "ollama:smollm2:135m" in rows, dialog.status.text()
    row = rows["ollama:smollm2:135m"]
    assert [dialog.table.item(row, c).text() for c in (APP, ARCH, QUANT)] == \
        ["Ollama", "llama", "Q4_1"]
    assert dialog.table.item(row, NAME).checkState() == Qt.CheckState.Checked
    # A folder of the user's with a file that only claims to be GGUF: said, not listed.
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "fake.gguf").write_text("<html>Not found</html>", encoding="utf-8")
    dialog.add_folder(str(mine))
    qtbot.waitUntil(lambda: dialog.rescan_button.isEnabled() and dialog.skipped.isVisible(),
                    timeout=WAIT_MS)
    assert "fake.gguf is not a GGUF model file" in dialog.skipped.toPlainText()
    assert "fake" not in [m.name for m in dialog.found()]
    for other in dialog.found():  # anything else this machine has stays out of the test
        if other.name != "ollama:smollm2:135m":
            dialog.set_ticked(other.name, False)
    SHOTS.mkdir(exist_ok=True)
    dialog.grab().save(str(SHOTS / "scan.png"))
    qtbot.mouseClick(dialog.register_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "ollama:smollm2:135m" in panel.library.names(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: dialog.rescan_button.isEnabled(), timeout=WAIT_MS)
    assert "Added ollama:smollm2:135m" in dialog.status.text()
    assert dialog.table.item(row, LIBRARY).text() == "ollama:smollm2:135m"
    assert dialog.table.item(row, NAME).checkState() != Qt.CheckState.Checked
    assert not dialog.register_button.isEnabled()  # nothing left to add
    entry = ModelRegistry().get("ollama:smollm2:135m")
    assert entry.path == str(blob) and not entry.managed  # in place, no copy
    dialog.grab().save(str(SHOTS / "scan-added.png"))
    panel.grab().save(str(SHOTS / "models-tab.png"))
    dialog.close()
