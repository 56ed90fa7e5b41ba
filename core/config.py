"""Where Glassbox keeps its data. `GLASSBOX_HOME` moves everything, for the app, CLI and tests."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "Glassbox"


def data_home() -> Path:
    """The one folder that holds the database, imported models and crash markers."""
    override = os.environ.get("GLASSBOX_HOME")
    home = Path(override).expanduser() if override else Path(platformdirs.user_data_dir(APP_NAME))
    home.mkdir(parents=True, exist_ok=True)
    return home


def database_path() -> Path:
    return data_home() / "glassbox.sqlite3"


def evals_path() -> Path:
    """Evaluation runs and their per-item results (core/store/evals.py)."""
    return data_home() / "evals.sqlite3"
