"""Start a driver in its own process group, let it work, SIGKILL the whole group."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

_READY_TIMEOUT_S = 120.0


def _lines(journal: Path) -> list[str]:
    return journal.read_text(encoding="utf-8").splitlines() if journal.exists() else []


def _ready_count(journal: Path) -> int:
    return sum(1 for line in _lines(journal) if line.startswith("ready "))


def run_and_kill(script: Path, args: list[str], journal: Path, env: dict[str, str],
                 rng: random.Random, max_delay_s: float, max_steps: int = 0) -> bool:
    """Run `script` until it journals 'ready' and then a random number (up to `max_steps`)
    of further lines, then SIGKILL it and its children after a random delay. Counting
    journal lines, not seconds, spreads the kills over the work however busy the machine
    is. Returns whether the driver was still running when the kill landed."""
    before = _ready_count(journal)
    steps = rng.randint(0, max_steps)
    proc = subprocess.Popen([sys.executable, str(script), *args], env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + _READY_TIMEOUT_S
    try:
        while _ready_count(journal) == before:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise AssertionError(f"{script.name} ended before it was ready:\n{err}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{script.name} was not ready in {_READY_TIMEOUT_S:.0f} s")
            time.sleep(0.02)
        start = len(_lines(journal))
        while len(_lines(journal)) < start + steps and proc.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"{script.name} made no progress in {_READY_TIMEOUT_S:.0f} s")
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, max_delay_s))
        running = proc.poll() is None
        os.killpg(proc.pid, signal.SIGKILL)  # the app and its engine/parser children at once
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.stderr:
            proc.stderr.close()
    _reap_group(proc.pid)
    return running


def _reap_group(pgid: int) -> None:
    # Children of the killed driver are re-parented to init; wait until none is left so the
    # next trial does not share the database with a dying one.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
    raise AssertionError(f"processes of group {pgid} outlived SIGKILL")
