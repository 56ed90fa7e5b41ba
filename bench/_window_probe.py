"""Runs in a child process: opens the real main window (offscreen, a fresh GLASSBOX_HOME set by
the parent) and measures one scenario, printing one JSON line.

    python -m bench._window_probe stall ROUNDS TOKENS
    python -m bench._window_probe memory

stall: the longest gap between ticks of a 5 ms QTimer heartbeat while a reply streams, and in an
idle stretch of the same length with the same window and model (the baseline).
memory: resident memory of the app (window process plus its children) at three moments: the
window shown without workers, the bundled model loaded, and the peak while the first-run sample
guide indexes.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

import psutil
from PySide6.QtCore import QElapsedTimer, Qt, QTimer

from core.config import database_path
from core.rag.sample import STATE_KEY as SAMPLE_STATE_KEY
from core.store import ChatStore
from desktop.app import create_app
from desktop.main_window import MainWindow

HEARTBEAT_MS = 5
TIMEOUT_S = 180.0
IDLE_MAX_S = 5.0


def _settings(**values: object) -> None:
    store = ChatStore(database_path())
    try:
        for key, value in values.items():
            store.settings.set(key, value)
    finally:
        store.close()


def _pump_until(app: object, done: Callable[[], bool], what: str,
                also: Callable[[], None] | None = None, every_s: float = 0.0) -> None:
    """Run the event loop until `done()`, checking it (and calling `also`) every `every_s`."""
    deadline = time.perf_counter() + TIMEOUT_S
    checked = 0.0
    while True:
        app.processEvents()  # type: ignore[attr-defined]
        now = time.perf_counter()
        if now - checked >= every_s:
            checked = now
            if also is not None:
                also()
            if done():
                return
        time.sleep(0.002)
        if now > deadline:
            raise SystemExit(f"timed out waiting for {what}")


class Heartbeat:
    """A precise timer whose longest gap between ticks says how long the loop was blocked."""

    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(HEARTBEAT_MS)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.longest = 0.0

    def start(self) -> None:
        self.clock.start()
        self.last = 0.0
        self.longest = 0.0
        self.timer.start()

    def stop(self) -> float:
        """The longest stall seen: the largest gap beyond the heartbeat interval, in ms."""
        self.timer.stop()
        return max(0.0, self.longest - HEARTBEAT_MS)

    def _tick(self) -> None:
        now = self.clock.nsecsElapsed() / 1e6
        self.longest = max(self.longest, now - self.last)
        self.last = now


def _open_window(app: object) -> MainWindow:
    window = MainWindow()
    window.show()
    _pump_until(app, lambda: window.windowHandle() is not None
                and window.windowHandle().isExposed(), "the window to show")
    return window


def _close(window: MainWindow) -> None:
    """Shut down as the app does on quit, and let the worker threads end before exit."""
    window.shutdown()
    for thread in window.threads():
        thread.wait(30_000)


def _wait_ready(app: object, window: MainWindow) -> None:
    _pump_until(app, lambda: window.models is not None and window.models.model is not None
                and window.chats is not None and window.chats.current_chat_id is not None
                and window.composer.isEnabled() and not window.store_busy(),
                "the model and a chat")


def stall(rounds: int, tokens: int) -> dict[str, object]:
    _settings(**{SAMPLE_STATE_KEY: "done",
                 "sampling": {"seed": 1, "max_tokens": tokens, "temperature": 0.7}})
    app = create_app(sys.argv[:1])
    window = _open_window(app)
    window.start()
    _wait_ready(app, window)
    assert window.engine is not None and window.chats is not None
    beat = Heartbeat()
    streaming, idle, replies_s = [], [], []
    finished: list[int] = []
    window.engine.worker.reply_finished.connect(lambda *_: finished.append(1))
    for round_ in range(rounds):
        expected = len(finished) + 1
        window.composer.set_text(f"Tell me a long story about a lighthouse, part {round_ + 1}.")
        beat.start()
        started = time.perf_counter()
        window.composer.send_button.click()
        _pump_until(app, lambda n=expected: len(finished) >= n, "the reply")
        replies_s.append(time.perf_counter() - started)
        streaming.append(beat.stop())
        _pump_until(app, lambda: not window.chats.generating and not window.store_busy(),
                    "the reply to settle")
        beat.start()  # the same window idling as long as the reply took (up to IDLE_MAX_S)
        idle_until = time.perf_counter() + min(replies_s[-1], IDLE_MAX_S)
        _pump_until(app, lambda t=idle_until: time.perf_counter() > t, "the idle stretch")
        idle.append(beat.stop())
    _close(window)
    return {"streaming_ms": streaming, "idle_ms": idle, "reply_s": replies_s}


def _tree_rss_mb() -> float:
    me = psutil.Process()
    total = me.memory_info().rss
    for child in me.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def memory() -> dict[str, object]:
    _settings(**{SAMPLE_STATE_KEY: None})  # the first run indexes the sample guide
    app = create_app(sys.argv[:1])
    window = _open_window(app)
    settle = time.perf_counter() + 1.0
    _pump_until(app, lambda: time.perf_counter() > settle, "a settled window")
    shown = _tree_rss_mb()
    window.start()
    peak = [0.0]

    def sample() -> None:
        peak[0] = max(peak[0], _tree_rss_mb())

    _wait_ready(app, window)
    loaded = _tree_rss_mb()
    documents = window.documents_controller
    assert documents is not None
    _pump_until(app, lambda: documents.busy or _guide_done(), "indexing to begin", sample,
                every_s=0.1)
    _pump_until(app, lambda: not documents.busy and _guide_done(), "indexing to end", sample,
                every_s=0.1)
    _close(window)
    return {"shown_mb": shown, "model_loaded_mb": loaded, "indexing_peak_mb": peak[0]}


def _guide_done() -> bool:
    store = ChatStore(database_path())
    try:
        return store.settings.get(SAMPLE_STATE_KEY) == "done"
    finally:
        store.close()


if __name__ == "__main__":
    scenario = sys.argv[1]
    if scenario == "stall":
        report = stall(int(sys.argv[2]), int(sys.argv[3]))
    elif scenario == "memory":
        report = memory()
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")
    print(json.dumps(report), flush=True)
