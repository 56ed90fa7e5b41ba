"""Learn › Tokenizer's chips for 2,000 characters, against a plain text box; and Learn ›
Attention: drawing the grid of every head of SmolLM2 (30 layers x 9 heads) for a
128-token capture, against a plain pyqtgraph ImageItem showing the same data.

- ours: the panel takes the capture (heatmap of one head, lines, choices), a pool thread draws
  the 270 thumbnails into one image, the GUI thread paints it; timed from the capture's arrival
  to the grid painted;
- baseline: the same 30 x 9 matrices tiled into one float image and handed to a pyqtgraph
  ImageItem on the GUI thread (what a first version would do), timed to painted.

For both, a 5 ms heartbeat timer runs and the longest gap between its ticks is the longest
stall of the window while the grid renders. Runs in a fresh interpreter (offscreen Qt).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench._stats import figure

REPO = Path(__file__).resolve().parent.parent
PROMPT_TOKENS = 128
ROUNDS = 9
TARGET_STALL_MS = 50.0  # the window keeps answering: no stall a person would feel
# The tokenizer panel's worst case in the tests: 2,000 characters with tabs, newlines and CJK.
CHIPS_TEXT = ("The quick brown fox jumps over the lazy dog.\n\tIndented: 日本語 "[:60] * 34)[:2000]
_SENTENCE = ("Old maps show roads that no longer exist and leave out cities that grew up "
             "afterwards, while the harbour records list every ship that came in. ")


def run() -> dict[str, Any]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-m", "bench.learn_panels", "child"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=900)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"learn panels bench failed ({done.returncode}): "
                           f"{done.stderr[-3000:]}")
    raw = json.loads(lines[-1])
    shape = "x".join(str(n) for n in raw["shape"])
    render = figure(f"head grid of a {shape} attention capture, arrival to painted",
                    raw["ours_render"], raw["bare_render"],
                    "one pyqtgraph ImageItem of the same 30 x 9 matrices, set and painted")
    stall = figure("longest event-loop stall while the head grid renders",
                   raw["ours_stall"], raw["bare_stall"],
                   "the same stall for the plain ImageItem (5 ms heartbeat)")
    stall["target_ms"] = TARGET_STALL_MS
    stall["target_met"] = stall["glassbox"] < TARGET_STALL_MS
    chips = figure(f"tokenizer: {raw['chips']} token chips of 2,000 characters, shown and "
                   "painted", raw["chips_ours"], raw["chips_bare"],
                   "the same text in a QPlainTextEdit, set and painted")
    return {"name": "learn_panels", "prompt_tokens": raw["shape"][-1],
            "memory": raw["memory"], "figures": [render, stall, chips]}


# -- the child: a real capture, a real panel --------------------------------------------------
def _capture() -> Any:
    from core.engine.client import EngineClient
    from core.engine.loading import load_model
    from core.models.bundled import default_chat_model
    from core.models.load_settings import LoadSettings

    with EngineClient() as engine:
        load_model(engine, default_chat_model(), LoadSettings(gpu_layers=0, n_ctx=1024))
        ids = [t.id for t in engine.tokenize(_SENTENCE * 12)][:PROMPT_TOKENS]
        text = "".join(t.text for t in engine.tokenize(_SENTENCE * 12)[:len(ids)])
        return engine.attention(text), engine.tokenize(CHIPS_TEXT)


def _child() -> None:
    import numpy as np
    from PySide6.QtCore import QEventLoop, QThreadPool, QTimer
    from PySide6.QtWidgets import QApplication

    import ui  # noqa: F401  (the PySide6 reference-count work-around, before any widget)
    from bench._window_probe import Heartbeat
    from desktop.learn_inside_controller import _GridJob, _GridSignals
    from ui.learn.attention_panel import AttentionPanel
    from ui.learn.heatmap_grid import colormap_lut

    app = QApplication.instance() or QApplication([])
    app.setStyle("Fusion")
    view, pieces = _capture()
    panel = AttentionPanel()
    panel.resize(1100, 720)
    panel.show()
    pool = QThreadPool()
    pool.setMaxThreadCount(1)
    signals = _GridSignals()
    heart = Heartbeat()

    def measured(start: Any) -> tuple[float, float]:
        """Run `start(finish)` inside the event loop; (ms to finish, longest stall in ms)."""
        loop = QEventLoop()
        clock = heart.clock
        took: list[float] = []

        def finish() -> None:
            took.append(clock.nsecsElapsed() / 1e6)
            QTimer.singleShot(2 * 5, loop.quit)  # one more beat sees the last slot's length

        heart.start()
        began = [0.0]

        def kick() -> None:
            began[0] = clock.nsecsElapsed() / 1e6
            start(finish)

        QTimer.singleShot(20, kick)
        loop.exec()
        return took[0] - began[0], heart.stop()

    def ours(finish: Any) -> None:
        def on_done(_job: int, image: Any, _rows: Any) -> None:
            signals.done.disconnect(on_done)
            panel.show_grid(image)
            panel.grid.repaint()
            finish()

        signals.done.connect(on_done)
        panel.show_view(view)
        panel.repaint()  # the heatmap of one head and the choices, painted here and now
        pool.start(_GridJob(1, view, (240, 240, 240), None, signals))

    import pyqtgraph as pg

    plot = pg.PlotWidget()
    plot.resize(1100, 720)
    plot.show()
    image_item = pg.ImageItem(axisOrder="row-major")
    image_item.setLookupTable(colormap_lut())
    plot.addItem(image_item)

    def bare(finish: Any) -> None:
        n_layer, n_head, q, k = view.attention.shape
        tiles = view.attention.transpose(0, 2, 1, 3).reshape(n_layer * q, n_head * k)
        image_item.setImage(tiles, levels=(0.0, 1.0), autoLevels=False)
        plot.viewport().repaint()  # the scene renders in the viewport's paint, here and now
        finish()

    from PySide6.QtWidgets import QPlainTextEdit

    from ui.learn.tokenizer_panel import TokenizerPanel

    chips = TokenizerPanel()
    chips.resize(900, 600)
    chips.show()
    plain = QPlainTextEdit()
    plain.resize(900, 600)
    plain.show()

    def chips_ours(finish: Any) -> None:
        chips.show_tokens(pieces, CHIPS_TEXT)
        chips.repaint()
        finish()

    def chips_bare(finish: Any) -> None:
        plain.setPlainText(CHIPS_TEXT)
        plain.viewport().repaint()
        finish()

    results: dict[str, list[float]] = {key: [] for key in (
        "ours_render", "ours_stall", "bare_render", "bare_stall", "chips_ours", "chips_bare")}
    for start in (ours, bare, chips_ours, chips_bare):
        measured(start)  # warm-up: first paints, caches
    for _ in range(ROUNDS):
        for name, start in (("ours", ours), ("bare", bare)):
            took, stall = measured(start)
            results[f"{name}_render"].append(round(took, 2))
            results[f"{name}_stall"].append(round(stall, 2))
        for name, start in (("chips_ours", chips_ours), ("chips_bare", chips_bare)):
            results[name].append(round(measured(start)[0], 2))
    grid_bytes = panel.grid._image.sizeInBytes() if panel.grid._image is not None else 0
    memory = {"capture_mb": round(view.attention.nbytes / 2**20, 2),
              "grid_image_mb": round(grid_bytes / 2**20, 2),
              "bare_tiles_mb": round(float(np.prod(view.attention.shape)) * 4 / 2**20, 2)}
    print(json.dumps({**results, "shape": list(view.attention.shape), "memory": memory,
                      "chips": len(pieces)}))
    plot.close()
    chips.close()
    plain.close()
    panel.close()


if __name__ == "__main__":
    if sys.argv[1:] == ["child"]:
        _child()
    else:
        print(json.dumps(run(), indent=2))
