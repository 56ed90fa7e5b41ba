"""Glassbox entry point: no arguments opens the desktop app; a subcommand runs the CLI.

Two flags serve the packaged app (packaging/): `--self-test` runs the headless end-to-end check
and prints its JSON report; `--startup-probe` opens the window, prints when it was shown, and
quits (bench/package.py times the packaged app with it).

Both paths that open a window first check, before PySide6 is imported, that Qt's X11 plugin can
load (desktop/qt_prerequisites.py): if not, they print what to install and exit with
EXIT_QT_PREREQUISITES instead of letting Qt abort the process.
"""

from __future__ import annotations

import time

_STARTED = time.perf_counter()  # first thing: the startup probe counts from here

import json  # noqa: E402
import multiprocessing  # noqa: E402
import sys  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from desktop.main_window import MainWindow

EXIT_QT_PREREQUISITES = 3  # the window cannot open: system libraries Qt needs are missing


def _qt_can_start() -> bool:
    """Before anything imports PySide6: False (after saying what to install) when Qt would
    abort for want of system libraries."""
    from desktop.qt_prerequisites import check_qt_platform

    return check_qt_platform()


def self_test() -> int:
    """Run core.self_test, print the JSON report; exit 0 only when every check passed."""
    from core.self_test import run_self_test

    def progress(check: str) -> None:
        print(f"self-test: {check}...", file=sys.stderr, flush=True)

    report = run_self_test(progress)
    print(json.dumps(report, indent=2, ensure_ascii=False), flush=True)
    if not report["ok"]:
        print(f"self-test failed: {report['failed']}", file=sys.stderr)
        return 1
    print(f"self-test passed in {report['total_s']} s", file=sys.stderr)
    return 0


def startup_probe() -> int:
    """Show the main window as the app does (no workers), print when it was exposed, quit."""
    from desktop.app import create_app
    from desktop.main_window import MainWindow

    app = create_app(sys.argv[:1])
    window = MainWindow()
    window.show()
    deadline = time.perf_counter() + 30
    while not (window.windowHandle() and window.windowHandle().isExposed()):
        app.processEvents()
        if time.perf_counter() > deadline:
            print("startup probe: the window was never shown", file=sys.stderr)
            return 1
    app.processEvents()  # the first paint
    shown_ms = (time.perf_counter() - _STARTED) * 1000
    heavy = [m for m in ("llama_cpp", "torch", "sentence_transformers", "numpy")
             if m in sys.modules]
    print(json.dumps({"shown_ms": round(shown_ms, 1), "heavy": heavy,
                      "frozen": bool(getattr(sys, "frozen", False))}), flush=True)
    return _probe_with_workers(app, window)


def _probe_with_workers(app: QApplication, window: MainWindow) -> int:
    """With GLASSBOX_PROBE_RUN_S set, start the workers as run_app does, let the app run that
    long (the engine child loads the model), save the window to GLASSBOX_PROBE_GRAB if set,
    and quit: how a packaged build shows that its GUI path works, not only the headless one."""
    import os

    from PySide6.QtCore import QTimer

    run_s = float(os.environ.get("GLASSBOX_PROBE_RUN_S", "0"))
    if run_s <= 0:
        window.close()
        return 0
    grab = os.environ.get("GLASSBOX_PROBE_GRAB")

    def finish() -> None:
        if grab:
            window.grab().save(grab)
        app.quit()

    app.aboutToQuit.connect(window.shutdown)
    QTimer.singleShot(0, window.start)
    QTimer.singleShot(int(run_s * 1000), finish)
    return app.exec()


def main() -> int:
    args = sys.argv[1:]
    if args == ["--self-test"]:
        return self_test()
    if args == ["--startup-probe"]:
        return startup_probe() if _qt_can_start() else EXIT_QT_PREREQUISITES
    if args:
        from core.cli import main as cli_main

        return cli_main(args)
    if not _qt_can_start():
        return EXIT_QT_PREREQUISITES
    from desktop.app import run_app

    return run_app(sys.argv)


if __name__ == "__main__":
    # First: in a frozen build, a spawned child (the engine, the parser) re-runs this
    # executable, and freeze_support hands it to its target instead of starting the app.
    multiprocessing.freeze_support()
    sys.exit(main())
