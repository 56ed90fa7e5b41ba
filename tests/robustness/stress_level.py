"""How hard the fault-injection harnesses push: short under `make test`, full under `make stress`.

GLASSBOX_STRESS unset runs a few trials of each harness (the whole folder stays within a couple
of minutes on a 2-core machine); GLASSBOX_STRESS=full runs the counts the README quotes and
writes each harness's figures to bench/results/stress.json. A fraction (GLASSBOX_STRESS=0.2)
runs that share of the full counts and records them the same way, for a partial run on a
busy machine.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "stress.json"



def _scale(level: str) -> float | None:
    if level == "full":
        return 1.0
    try:
        share = float(level)
    except ValueError:
        return None
    return share if 0 < share <= 1 else None


SCALE = _scale(os.environ.get("GLASSBOX_STRESS", ""))
FULL = SCALE == 1.0


def trials(short: int, full: int) -> int:
    """How many trials a harness runs at this stress level."""
    return short if SCALE is None else max(short, round(full * SCALE))


def record(name: str, figures: dict[str, Any]) -> None:
    """Keep the figures of a full run for the README (short runs only print them)."""
    figures = {**figures, "stress_level": "short" if SCALE is None else SCALE}
    print(f"\n[stress] {name}: {json.dumps(figures)}")
    if SCALE is None:
        return
    data: dict[str, Any] = {}
    if RESULTS.exists():
        data = json.loads(RESULTS.read_text(encoding="utf-8"))
    data[name] = figures
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
