"""The README's tool screenshots: a chat with a consent card, and Learn › Agent trace.

Not a test (pytest does not collect it); a person runs it and looks at the pictures:

    PYTHONPATH=. .venv/bin/python -m tests.gui.tools_screenshots --out resources/screenshots

It opens the real window (dark theme, a throw-away data folder, the bundled model), turns the
calculator on for the chat with tool choice "required", asks a sum, and shoots the card while
the agent waits for consent; then allows the call, lets the reply finish and opens its trace.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QPoint, Qt, QUrl  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

SIZE = (1280, 820)
QUESTION = "What is 17 * 23? Use the calculator."


def wait(app: QApplication, what: str, done: Callable[[], bool], timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout_s:.0f} s for {what}")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)


def settle(app: QApplication, ms: int = 500) -> None:
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.01)


def _settings() -> None:
    from core.api import ChatStore, database_path
    from core.rag.sample import STATE_KEY

    store = ChatStore(database_path())
    try:
        store.settings.set("sampling", {"seed": 7, "max_tokens": 40, "temperature": 0.0})
        store.settings.set(STATE_KEY, "done")  # no first-run guide: not what this shows
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("resources/screenshots"))
    parser.add_argument("--light", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("GLASSBOX_HOME", tempfile.mkdtemp(prefix="glassbox-shots-"))
    args.out.mkdir(parents=True, exist_ok=True)
    _settings()
    from desktop.app import create_app
    from desktop.main_window import MainWindow
    from ui.theme import apply_theme

    app = create_app(sys.argv[:1])
    apply_theme(app, dark=not args.light)
    window = MainWindow()
    window.resize(*SIZE)
    window.show()
    window.start()
    try:
        wait(app, "the model", lambda: window.models is not None
             and window.models.model is not None and window.chats is not None
             and window.chats.current_chat_id is not None and window.composer.isEnabled())
        _real_flow(app, window, args.out)
    finally:
        window.close()
        wait(app, "the workers", lambda: not any(t.isRunning() for t in window.threads()), 60)


def click(widget: QWidget) -> None:
    """A real mouse click in the middle of the widget, as a person would."""
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton,
                     pos=QPoint(widget.width() // 2, widget.height() // 2))


def _shoot(app: QApplication, widget: object, path: Path) -> None:
    settle(app)
    if not widget.grab().save(str(path)):  # type: ignore[attr-defined]
        raise OSError(f"could not save {path}")
    print(f"  {path}", flush=True)


def _real_flow(app: QApplication, window: object, out: Path) -> None:
    from desktop.main_window import MainWindow

    assert isinstance(window, MainWindow) and window.tools is not None
    window.composer.tools_button.click()
    picker = window.tools.picker
    assert picker is not None
    wait(app, "the tools picker", picker.isVisible)
    picker.builtin_boxes["calculator"].setChecked(True)
    picker.choice.setCurrentIndex(picker.choice.findData("required"))
    picker.steps.setValue(1)  # one call, then the answer
    picker.buttons.accepted.emit()
    settle(app)
    window.composer.set_text(QUESTION)
    click(window.composer.send_button)
    wait(app, "the consent card", lambda: bool(window.tool_cards.waiting_cards()))
    _shoot(app, window, out / "tools-consent.png")
    click(window.tool_cards.waiting_cards()[0].allow_button)
    wait(app, "the reply", lambda: window.chats is not None and not window.chats.generating
         and "Agent trace" in window.chat_view.toPlainText())
    reply_id = max(m.message_id or 0 for m in window.chat_view._messages)
    window.chat_view.anchorClicked.emit(QUrl(f"glassbox-trace:{reply_id}"))
    _shoot(app, window, out / "agent-trace.png")


if __name__ == "__main__":
    main()
