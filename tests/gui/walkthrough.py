"""Issue 18's tasks walked through like a learner, in the real window on a real X display.

Not a test (pytest does not collect it): a person runs it and looks at the screenshots, which
are taken from the X framebuffer (what a user would see, menus and dialogs included) rather
than rendered by the widgets themselves.

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python -m tests.gui.walkthrough \
        --out /tmp/walk18/light --theme light

It starts the app the way run_app does, on a fresh data folder (a first run: the guide is
indexed, the welcome is shown), and goes through: the welcome; a question to the bundled
model; a chat answered from the guide, with its sources; Inspect reply; the Learn panels
(tokenizer with an emoji, next token with the sampler stages, attention with its colour scale,
logit lens, quantization lab); Models; Compare; Check database.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Before Qt is imported: the real X display, not the offscreen platform the tests use.
os.environ["QT_QPA_PLATFORM"] = "xcb"

from PySide6.QtCore import QEventLoop, QPoint, QRect, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

WINDOW = (1280, 800)
NARROW = (1100, 760)  # the UI audit's size: where a crowded header shows first
# Short replies keep the walk to a few minutes on two cores; they look like long ones.
SAMPLING = {"seed": 7, "max_tokens": 48, "temperature": 0.7}
_POPUPS = (Qt.WindowType.ToolTip, Qt.WindowType.Popup)  # transient: they do not widen the shot


class Walk:
    def __init__(self, app: QApplication, out: Path) -> None:
        self.app = app
        self.out = out
        self.count = 0

    def wait(self, what: str, done: Callable[[], bool], timeout_s: float = 180) -> None:
        """Run the event loop until `done()`; a walk that stalls says where."""
        deadline = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout_s:.0f} s for {what}")
            self.app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.01)

    def settle(self, ms: int = 400) -> None:
        """Let layouts, late paints and the X server catch up before a screenshot."""
        end = time.monotonic() + ms / 1000
        while time.monotonic() < end:
            self.app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            time.sleep(0.01)

    def shot(self, name: str) -> None:
        self.settle()
        self.count += 1
        path = self.out / f"{self.count:02d}-{name}.png"
        # The X root window, cut to the app's windows (dialogs included): what a user sees.
        shown = QRect()
        for top in self.app.topLevelWidgets():
            if top.isVisible() and top.isWindow() and top.windowType() not in _POPUPS:
                shown = shown.united(top.frameGeometry())
        screen = QGuiApplication.primaryScreen()
        picture = screen.grabWindow(0, shown.x(), shown.y(), shown.width(), shown.height())
        if not picture.save(str(path)):
            raise OSError(f"could not save {path}")
        print(f"  {path}", flush=True)


def click(widget: QWidget) -> None:
    """A real mouse click in the middle of the widget, as a learner would."""
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton, pos=QPoint(widget.width() // 2,
                                                                   widget.height() // 2))


def walk(walk: Walk, dark: bool) -> None:  # noqa: PLR0915 (one story, told in order)
    from desktop.app import AfterFirstPaint, create_app
    from desktop.main_window import MainWindow
    from ui.theme import apply_theme

    create_app(sys.argv[:1])
    apply_theme(walk.app, dark)  # the app follows the system; the walk picks
    window = MainWindow()
    window.move(0, 0)
    window.resize(*WINDOW)
    window.show()
    AfterFirstPaint(window, window.start)
    try:
        _tasks(walk, window)
    finally:
        window.close()
        walk.wait("the workers to stop",
                  lambda: not any(t.isRunning() for t in window.threads()), 60)


def _tasks(walk: Walk, window: object) -> None:  # noqa: PLR0915 (one story, told in order)
    from core.rag.sample import SAMPLE_COLLECTION
    from desktop.main_window import MainWindow

    assert isinstance(window, MainWindow)
    w = window

    def idle() -> bool:
        return (w.chats is not None and w.chats.current_chat_id is not None
                and not w.chats.generating and w.composer.isEnabled() and not w.store_busy())

    def replied(count: int) -> Callable[[], bool]:
        return lambda: idle() and w.chat_view.toPlainText().count("tokens/s") >= count

    print("first run: the welcome", flush=True)
    walk.wait("the model", lambda: w.models is not None and w.models.model is not None)
    walk.wait("the first chat", idle)
    walk.wait("the demo model's hint", lambda: bool(w.chat_view.model_hint.text()), 60)
    walk.shot("welcome")

    print("a question to the bundled model", flush=True)
    click(w.chat_view.welcome.cards["askCard"])
    walk.wait("the reply", replied(1))
    walk.shot("first-reply")

    print("a chat answered from the guide", flush=True)
    click(w.chat_list.new_button)
    walk.wait("a new, empty chat", lambda: idle() and w.chat_view.welcome.isVisible())
    guide_card = w.chat_view.welcome.cards["guideCard"]
    if not guide_card.isEnabled():  # the card waits for the guide's indexing, saying so
        walk.shot("guide-card-waiting")
    walk.wait("the guide card", guide_card.isEnabled, 300)
    assert SAMPLE_COLLECTION in w.collections_button.available()
    click(guide_card)
    walk.settle()
    walk.shot("guide-question-ready")
    click(w.composer.send_button)
    walk.wait("the grounded reply", replied(1))
    walk.shot("grounded-reply")
    w.sources_button.setChecked(True)
    walk.shot("grounded-sources")
    w.resize(*NARROW)
    walk.shot("grounded-sources-narrow")
    w.sources_button.setChecked(False)
    w.resize(*WINDOW)

    print("Inspect reply", flush=True)
    click(w.inspect_button)
    walk.wait("the surprise view", lambda: w.learn.surprise.main.view is not None)
    walk.shot("inspect-reply")

    print("Learn", flush=True)
    tokenizer = w.learn.show_tokenizer()
    tokenizer.set_text("Hello wörld 👋, tokens!")
    walk.wait("the tokens", lambda: tokenizer.chips.token_count > 0)
    walk.shot("learn-tokenizer")
    next_token = w.learn.show_next_token()
    next_token.set_prompt("The capital of France is")
    # Bars are already there (Inspect reply filled the panel): wait for the example's own.
    walk.wait("the next-token bars", lambda: next_token.bars.bar_count() > 0
              and "France is" in next_token.title_label.text())
    walk.shot("learn-next-token")
    attention = w.learn.show_attention()
    attention.prompt.try_example()
    walk.wait("the attention heatmap",
              lambda: attention.view is not None and attention.heatmap.plot is not None)
    walk.shot("learn-attention")
    lens = w.learn.show_lens()
    lens.prompt.try_example()
    walk.wait("the logit lens", lambda: lens.view is not None)
    walk.shot("learn-lens")
    w.learn.show_quant_lab()
    walk.shot("learn-quant-lab")

    print("Models", flush=True)
    w.tabs.setCurrentWidget(w.models_panel)
    walk.shot("models")

    print("Compare", flush=True)
    w.tabs.setCurrentWidget(w.compare_panel)
    click(w.compare_panel.example_button)
    walk.wait("the comparison", lambda: not w.compare_panel.running, 300)
    walk.shot("compare")

    print("Check database", flush=True)
    assert w.database is not None
    w.menuBar().actions()[0].menu().actions()[0].trigger()  # Tools › Check database…
    dialog = w.database.dialog
    walk.wait("the database report", lambda: dialog.isVisible() and not w.store_busy(), 60)
    walk.settle(1500)
    walk.shot("check-database")
    dialog.hide()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the screenshots")
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY"):
        parser.error("no X display: run it under xvfb-run (see the module's docstring)")
    args.out.mkdir(parents=True, exist_ok=True)
    # A first run: a fresh data folder, as a learner's first hour starts.
    home = tempfile.mkdtemp(prefix="glassbox-walk-")
    os.environ["GLASSBOX_HOME"] = home
    from core.config import database_path
    from core.store import ChatStore

    store = ChatStore(database_path())
    try:
        store.settings.set("sampling", SAMPLING)
    finally:
        store.close()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    print(f"walk-through ({args.theme}) in {home}", flush=True)
    try:
        walk(Walk(app, args.out), args.theme == "dark")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
