"""Starts `bench._window_probe` in a fresh interpreter with an empty GLASSBOX_HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def probe(*args: str, timeout_s: float = 600.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="glassbox-bench-") as home:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", GLASSBOX_HOME=home)
        done = subprocess.run([sys.executable, "-m", "bench._window_probe", *args], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=timeout_s)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"window probe {args} failed ({done.returncode}): "
                           f"{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result
