"""Glassbox entry point: no arguments opens the desktop app; a subcommand runs the CLI."""

from __future__ import annotations

import multiprocessing
import sys


def main() -> int:
    # The engine runs in a spawned child; a frozen (PyInstaller) build must hand it over here.
    multiprocessing.freeze_support()
    if len(sys.argv) > 1:
        from core.cli import main as cli_main

        return cli_main(sys.argv[1:])
    from desktop.app import run_app

    return run_app(sys.argv)


if __name__ == "__main__":
    sys.exit(main())
