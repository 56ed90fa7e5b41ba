"""The Steering tab, offscreen, on the real model: build a direction from a few starter pairs
(progress shown, off the GUI thread), steer, and see the replies side by side."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from desktop.steering_controller import STARTERS, SteeringController
from ui.learn.steering_panel import SteeringPanel

_WAIT_MS = 600_000  # a real model on two busy cores


def _audit(widget: object) -> list[str]:
    # The window audit's checks (tests/gui/ui_audit.py), on this panel filled with a real run.
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gui"))
    from ui_audit import audit

    return list(audit(widget))  # type: ignore[arg-type]


def test_panel_builds_steers_and_saves(qtbot: QtBot, model_path: Path, tmp_path: Path) -> None:
    lines = (STARTERS / "positive_negative.jsonl").read_text(encoding="utf-8").splitlines()
    pairs = tmp_path / "few.jsonl"
    pairs.write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    panel = SteeringPanel()
    qtbot.addWidget(panel)
    errors: list[str] = []
    controller = SteeringController(panel, errors.append, lambda: str(model_path))
    assert panel.pairs_box.count() == 4  # three starter sets and "Pairs file…"
    progress: list[int] = []
    panel.progress.valueChanged.connect(progress.append)
    try:
        controller.build(str(pairs))
        assert panel.cancel_button.isEnabled()
        qtbot.waitUntil(lambda: controller.direction is not None or bool(errors),
                        timeout=_WAIT_MS)
        assert not errors
        assert controller.direction is not None
        assert progress and max(progress) == 3
        assert len(panel.separation.accuracies) == controller.direction.n_layer
        assert panel.run_button.isEnabled() and panel.save_button.isEnabled()
        first, last = panel.layers()
        assert 1 <= first <= last < controller.direction.n_layer
        controller.reply_tokens = 6
        panel.strength.setValue(20)  # +2.0
        panel.run_button.click()
        qtbot.waitUntil(lambda: controller.run_result is not None or bool(errors),
                        timeout=_WAIT_MS)
        assert not errors
        assert len(panel.replies.columns) == 5
        shown = [t.toPlainText() for t in panel.replies.texts]
        assert all(shown) and len(set(shown)) > 1  # steering changed the replies
        panel.resize(1300, 800)
        panel.show()
        qtbot.waitExposed(panel)
        assert _audit(panel) == []  # no clipped text, contrast below AA, widget outside
        controller.save(str(tmp_path / "glad.gguf"), first, last)
        qtbot.waitUntil(lambda: (tmp_path / "glad.gguf").is_file() and not controller.busy,
                        timeout=_WAIT_MS)
        assert "Saved" in panel.status.text()
    finally:
        controller.stop()
