"""The Fine-tune lab in the real window, on the bundled model: the sample data and its preview,
a malformed file's problems by line number, a tiny run cancelled and resumed to the end with
its loss curve, what the adapter changed on a held-out example, and Use in chat."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from guitools import OpenWindow
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.finetune.lab import load_sample, sample_data_path
from core.gguf.reader import read_header

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "screenshots"
# Loading the dequantized base from the cache takes seconds; the first load of a session
# fills the cache (30-80 s on two busy cores), and each run spawns a fresh torch process.
RUN_MS = 300_000
QUICK_MS = 60_000


@pytest.fixture(scope="module", autouse=True)
def finetune_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One cache of the dequantized base for the module (a folder already named in
    GLASSBOX_FINETUNE_CACHE is kept, to keep it between runs)."""
    previous = os.environ.get("GLASSBOX_FINETUNE_CACHE")
    folder = Path(previous) if previous else tmp_path_factory.mktemp("finetune-cache")
    os.environ["GLASSBOX_FINETUNE_CACHE"] = str(folder)  # the training child inherits it
    yield folder
    if previous is None:
        os.environ.pop("GLASSBOX_FINETUNE_CACHE", None)


def _small_file(path: Path) -> Path:
    """14 of the sample's examples with two broken lines among them (lines 3 and 7)."""
    lines = sample_data_path().read_text(encoding="utf-8").splitlines()[:14]
    lines.insert(2, "{not json")
    lines.insert(6, json.dumps({"prompt": "no reply here"}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _shoot(window: object, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    # Git-ignored: look at it, and copy it to resources/screenshots/ when the look changes.
    assert window.grab().save(str(target))  # type: ignore[attr-defined]


def test_finetune_lab_end_to_end(qtbot: QtBot, open_window: OpenWindow, tmp_path: Path) -> None:
    window = open_window()
    window.resize(1280, 860)
    window.tabs.setCurrentWidget(window.learn)
    panel = window.learn.show_finetune()
    controller = window.finetune_controller
    assert controller is not None and window.models is not None

    # The sample data: listed, split, and the first example through the chat template.
    qtbot.mouseClick(panel.sample_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: controller.plan is not None and bool(panel.preview.pieces),
                    timeout=QUICK_MS)
    sample = load_sample()
    assert panel.examples.count() == len(sample.examples) == 60
    assert panel.held_out_rows and all("(held out)" in panel.examples.item(i).text()
                                       for i in panel.held_out_rows)
    learned = "".join(p for p, t in zip(panel.preview.pieces, panel.preview.trained,
                                        strict=True) if t)
    response = sample.examples[0].response
    assert learned.startswith(response) and "<|im_end|>" in learned[len(response):]
    assert not panel.preview.trained[0]  # the prompt is masked
    assert "GiB" in panel.estimate.text()

    # A file with broken lines: they are named by number, the rest is usable.
    controller.open_file(str(_small_file(tmp_path / "small.jsonl")))
    qtbot.waitUntil(lambda: panel.examples.count() == 14 and controller.plan is not None,
                    timeout=QUICK_MS)
    assert panel.problems.isVisible()
    assert "line 3" in panel.problems.text() and "line 7" in panel.problems.text()

    # A tiny run: 13 examples to train on in batches of 4 (4 steps), cancelled, resumed.
    panel.settings.set_values({"max_length": 48, "epochs": 1, "batch_size": 4,
                               "learning_rate": 0.002, "rank": 8, "alpha": 16})
    panel.set_run_name("beep-test")
    qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    assert controller.training_now and panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: len(panel.loss.points["train"]) >= 1, timeout=RUN_MS)
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not controller.training_now, timeout=RUN_MS)
    assert controller.outcome is not None
    assert controller.outcome.finished.status == "cancelled", controller.outcome.finished
    stopped_at = controller.outcome.finished.step
    assert stopped_at < 4
    qtbot.waitUntil(panel.resume_button.isEnabled, timeout=QUICK_MS)
    qtbot.mouseClick(panel.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not controller.training_now, timeout=RUN_MS)
    finished = controller.outcome.finished
    assert finished.ok and finished.step == 4, window.error_banner.message()
    assert controller.outcome.adapter_gguf, controller.outcome.export_error
    assert [s for s, _ in panel.loss.points["train"]] == [1, 2, 3, 4]
    assert panel.loss.points["held_out"] and panel.progress.value() == 100

    # What changed, on the held-out example; as many layers as the model has.
    qtbot.waitUntil(lambda: controller.effect is not None and panel.effect.effect is not None,
                    timeout=RUN_MS)
    header = read_header(controller.run_base).metadata
    layers = int(header[f"{header['general.architecture']}.block_count"])
    effect = panel.effect.effect
    assert len(panel.effect.strip.changes) == len(effect.pieces) - 1 > 3
    assert len(panel.effect.drift.values) == layers
    # The adapter is applied where the text is read: the two readings differ.
    assert effect.perplexity_adapter != effect.perplexity_base
    assert max(panel.effect.drift.values) > 0
    assert all(len(v) == layers for v in panel.effect.anatomy.norms.values())
    assert set(panel.effect.anatomy.norms) == {"q_proj", "k_proj", "v_proj", "o_proj"}
    panel.effect.strip.token_clicked.emit(1)
    assert panel.effect.selected == 1 and panel.effect.table.rowCount() == 5
    assert "beep-test" in panel.runs.currentItem().text()
    panel.pages.setCurrentIndex(2)
    panel.effect.select(int(effect.surprise_change.argmax()))
    qtbot.wait(200)
    _shoot(window, "finetune-what-changed")
    panel.pages.setCurrentIndex(1)
    qtbot.wait(200)
    _shoot(window, "finetune-loss")

    # Use in chat: the chat model loads with the adapter, then its scale changes in place.
    qtbot.mouseClick(panel.use_button, Qt.MouseButton.LeftButton)
    adapter = controller.outcome.adapter_gguf
    models = window.models
    qtbot.waitUntil(lambda: models.model is not None
                    and [lora.path for lora in models.model.loras] == [adapter],
                    timeout=QUICK_MS)
    assert "+ beep-test ×1" in window.status.model_label.text()
    panel.scale.setValue(0.5)
    qtbot.waitUntil(lambda: models.model is not None and models.model.loras
                    and models.model.loras[0].scale == 0.5, timeout=QUICK_MS)
    assert "+ beep-test ×0.5" in window.status.model_label.text()
    assert window.error_banner.message() in ("", None), window.error_banner.message()
