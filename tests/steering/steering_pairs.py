"""The starter pairs shipped in resources/steering, for the steering tests (a module of its own:
fixtures that ran `from conftest import ...` got whichever conftest was imported last)."""

from __future__ import annotations

import json
from pathlib import Path

from core.engine.steering_types import SteeringPair

STARTERS = Path(__file__).resolve().parents[2] / "resources" / "steering"


def starter_pairs(name: str, count: int) -> list[SteeringPair]:
    lines = (STARTERS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return [SteeringPair(**json.loads(line)) for line in lines[:count]]
