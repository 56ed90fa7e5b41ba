"""How hard the fault-injection harnesses push: short under `make test`, full under `make stress`.

GLASSBOX_STRESS unset runs a few trials of each harness (the whole folder stays within a couple
of minutes on a 2-core machine); GLASSBOX_STRESS=full runs the counts the README quotes and
writes each harness's figures to bench/results/stress.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "stress.json"

FULL = os.environ.get("GLASSBOX_STRESS", "") == "full"


def trials(short: int, full: int) -> int:
    """How many trials a harness runs at this stress level."""
    return full if FULL else short


def record(name: str, figures: dict[str, Any]) -> None:
    """Keep the figures of a full run for the README (short runs only print them)."""
    print(f"\n[stress] {name}: {json.dumps(figures)}")
    if not FULL:
        return
    data: dict[str, Any] = {}
    if RESULTS.exists():
        data = json.loads(RESULTS.read_text(encoding="utf-8"))
    data[name] = figures
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
