"""Fixtures for the fault-injection harnesses (their size: stress_level.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the drivers and corpora live next to us

from stress_level import ROOT  # noqa: E402


@pytest.fixture
def python_env(glassbox_home: Path) -> dict[str, str]:
    """Environment for driver processes: our GLASSBOX_HOME, the repository importable."""
    env = dict(os.environ)
    env["GLASSBOX_HOME"] = str(glassbox_home)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env
