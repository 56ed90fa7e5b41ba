"""The application entry: the window shows before the engine is imported; it quits cleanly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_RUN_AND_QUIT = """
import multiprocessing, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from desktop.app import create_app, run_app

def quit_when_ready():
    window = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "mainWindow")
    if window.models is not None and window.models.model is not None:
        print("loaded", window.models.model.name, flush=True)
        window.close()
    else:
        QTimer.singleShot(100, quit_when_ready)

if __name__ == "__main__":
    app = create_app(sys.argv)
    QTimer.singleShot(100, quit_when_ready)
    code = run_app(sys.argv)
    print("exit", code, "children", len(multiprocessing.active_children()), flush=True)
"""


def test_the_window_module_does_not_import_the_engine() -> None:
    """The window must show at once: the engine client is imported on the worker thread."""
    code = ("import sys, desktop.app; "
            "print(sorted(m for m in ('core.engine.client', 'core.chat', 'llama_cpp', "
            "'numpy', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_run_app_loads_the_model_and_exits_cleanly(tmp_path: Path) -> None:
    script = tmp_path / "run_and_quit.py"
    script.write_text(_RUN_AND_QUIT, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=240, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("loaded SmolLM2"), done.stdout
    assert lines[-1] == "exit 0 children 0"
