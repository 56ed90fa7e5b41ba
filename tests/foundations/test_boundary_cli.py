"""`glassbox learn boundary`: per-step loss and accuracy, the final test accuracy, divergence."""

from __future__ import annotations

import io
import json

from core.cli import main


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["learn", "boundary", *argv], out, err)
    return code, out.getvalue(), err.getvalue()


def test_json_has_every_step_and_the_final_test_accuracy() -> None:
    code, out, err = _run("--dataset", "moons", "--steps", "300", "--json")
    assert code == 0, err
    data = json.loads(out)
    steps = data["steps"]
    assert [s["step"] for s in steps] == list(range(1, 301))
    assert data["final_test_accuracy"] == steps[-1]["test_accuracy"] >= 0.95
    assert steps[-1]["loss"] < steps[0]["loss"]
    assert data["network"]["parameters"] == 2 * 8 + 8 + 8 * 8 + 8 + 8 + 1
    assert data["stopped"] is None


def test_text_output_and_a_diverging_run() -> None:
    code, out, _ = _run("--dataset", "xor", "--steps", "20", "--layers", "1")
    assert code == 0 and "final test accuracy" in out and "step    20" in out
    code, out, err = _run("--steps", "20", "--optimizer", "sgd", "--lr", "1e9", "--json")
    assert code == 1
    data = json.loads(out)
    assert "diverged" in data["stopped"] and "diverged" in err
    assert len(data["steps"]) < 20


def test_bad_settings_are_a_clear_error() -> None:
    code, _, err = _run("--width", "300000", "--layers", "40", "--steps", "1")
    assert code == 1 and "would need about" in err and "glassbox: error:" in err
