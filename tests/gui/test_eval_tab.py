"""The Evaluate tab on the real model and a Q8_0 copy of it: a starter set's first items,
the matrix of means with intervals, the per-item drill-down, CSV export, and Stop then Resume
finishing a run without redoing what was scored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from guitools import REPLY_TIMEOUT_MS, OpenWindow
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from core.config import evals_path
from core.store.evals import EvalStore

SHOTS = Path(__file__).resolve().parents[2] / "screenshots"
ITEMS = 3
METRICS = ["exact_match", "f1", "chrf"]
RUN_TIMEOUT_MS = 4 * REPLY_TIMEOUT_MS


def _shot(widget: QWidget, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    assert widget.grab().save(str(SHOTS / name))


def _run(qtbot: QtBot, window: Any, click: Any) -> dict[str, Any] | None:
    with qtbot.waitSignal(window.evals.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        click()
    return finished.args[0]  # type: ignore[no-any-return]


def test_evaluate_two_models_drill_down_export_stop_and_resume(
        qtbot: QtBot, open_window: OpenWindow, model_path: Path, tmp_path: Path) -> None:
    from core.models.quantize import quantize_model

    copy = quantize_model(model_path, "Q8_0")
    window = open_window()
    panel = window.eval_panel
    window.tabs.setCurrentWidget(panel)
    qtbot.waitUntil(lambda: panel.set_combo.count() > 1 and panel.subject_list.count() == 1)
    # The quantized copy joins through "Add model… › Model file…" (the file dialog answered).
    window.ask_open_path = lambda *_: str(copy.path)
    panel.add_file_requested.emit()
    assert panel.subject_paths()[1] == str(copy.path)
    index = next(i for i in range(panel.set_combo.count())
                 if panel.set_combo.itemText(i).startswith("facts"))
    panel.set_combo.setCurrentIndex(index)
    panel.set_combo.activated.emit(index)
    qtbot.waitUntil(lambda: "exact_match" in panel.chosen_metrics())
    panel.set_metrics(METRICS)
    panel.limit_spin.setValue(ITEMS)
    panel.tokens_spin.setValue(8)

    overview = _run(qtbot, window, panel.run_button.click)
    assert overview is not None and overview["status"] == "complete"
    matrix = panel.results.table
    assert matrix.rowCount() == 2
    assert [matrix.horizontalHeaderItem(c).text() for c in range(1, 4)] == METRICS
    for row in range(2):
        assert matrix.item(row, 0).text() == str(ITEMS)
        for metric in METRICS:
            cell = panel.results.cell_text(row, metric)
            assert cell != "—" and "[" in cell and "]" in cell, cell
    assert panel.results.significance.text()
    qtbot.waitUntil(lambda: panel.saved_list.count() == 1)
    panel.results.metric_combo.setCurrentText("chrf")
    _shot(window, "eval-matrix.png")

    panel.result_tabs.setCurrentWidget(panel.items)
    assert panel.items.item_list.count() == ITEMS
    panel.items.select(0)
    shown = panel.items.shown_text()
    assert "Paris" in shown and "Reference" in shown
    for label in overview["subjects"]:
        assert label in shown
    assert "exact_match" in shown
    _shot(window, "eval-drilldown.png")

    target = tmp_path / "run.csv"
    window.ask_save_path = lambda *_: str(target)
    panel.export_csv_button.click()
    qtbot.waitUntil(target.is_file, timeout=REPLY_TIMEOUT_MS)
    lines = target.read_text(encoding="utf-8").strip().splitlines()
    assert lines[0].startswith("run,subject,item_id") and len(lines) == 1 + 2 * ITEMS

    # Stop after the first scored item, then Resume: the kept items are not asked again.
    def stop_once(value: int) -> None:
        if value >= 1 and panel.running and panel.stop_button.isEnabled():
            panel.stop_button.click()

    panel.progress.valueChanged.connect(stop_once)
    stopped = _run(qtbot, window, panel.run_button.click)
    panel.progress.valueChanged.disconnect(stop_once)
    assert stopped is not None and stopped["status"] == "cancelled"
    run_id = stopped["id"]
    with EvalStore(evals_path()) as store:
        before = {(r.subject, r.item_id): r.seconds for r in store.results(run_id)}
    assert 0 < len(before) < 2 * ITEMS
    assert panel.resume_button.isEnabled()
    reported: list[int] = []
    show_progress = panel.show_progress

    def record(done: int, total: int, label: str) -> None:
        reported.append(done)
        show_progress(done, total, label)

    panel.show_progress = record  # type: ignore[method-assign]
    resumed = _run(qtbot, window, panel.resume_button.click)
    assert resumed is not None and resumed["status"] == "complete"
    assert reported[0] == len(before) and reported[-1] == 2 * ITEMS
    with EvalStore(evals_path()) as store:
        after = store.results(run_id)
    assert len(after) == 2 * ITEMS
    assert {(r.subject, r.item_id): r.seconds for r in after
            if (r.subject, r.item_id) in before} == before
    qtbot.waitUntil(lambda: panel.saved_list.count() == 2)
