"""core.self_test from source, in this process, with the real bundled models (not slow)."""

from __future__ import annotations

import sys
from pathlib import Path

from core.self_test import CHECK_NAMES, bundle_root, modules_outside, run_self_test

REPO = Path(__file__).resolve().parents[2]


def _checks(report: dict) -> dict[str, dict]:
    return {c["name"]: c for c in report["checks"]}


def test_self_test_passes_on_the_bundled_models(tmp_path: Path, glassbox_home: Path) -> None:
    seen: list[str] = []
    report = run_self_test(seen.append, work_dir=tmp_path)
    assert report["ok"], report["failed"]
    assert report["failed"] is None and report["frozen"] is False
    assert seen == list(CHECK_NAMES)  # progress named every check, in order
    checks = _checks(report)
    assert all(c["ok"] and c["error"] is None for c in checks.values())
    assert checks["chat_model"]["details"]["name"].startswith("SmolLM2-135M")
    assert checks["generate"]["details"]["completion_tokens"] >= 1
    index = checks["index_sample"]["details"]
    assert index["indexed"] == len(index["files"]) >= 5 and index["chunks"] > 0
    grounded = checks["grounded_answer"]["details"]
    assert grounded["sources"] >= 1 and grounded["answer"].strip()
    assert all(c["file"] in index["files"] for c in grounded["cited"])
    attention = checks["attention"]["details"]
    assert (attention["layers"], attention["heads"]) == (30, 9)  # SmolLM2-135M's shape
    assert attention["max_row_sum_error"] < 0.02
    # Everything it wrote went to the work folder, nothing to the user's data folder.
    assert (tmp_path / "glassbox.sqlite3").is_file()
    assert not glassbox_home.exists() or not any(glassbox_home.iterdir())


def test_a_broken_chat_model_fails_with_its_reason_and_skips_what_needs_it(
        tmp_path: Path) -> None:
    bogus = tmp_path / "broken.gguf"
    bogus.write_bytes(b"not a model at all" * 100)
    report = run_self_test(work_dir=tmp_path / "work", chat_model=bogus)
    checks = _checks(report)
    assert report["ok"] is False
    assert report["failed"].startswith("chat_model: ")
    assert "broken.gguf" in checks["chat_model"]["error"]
    for name in ("generate", "grounded_answer", "attention"):
        assert checks[name]["skipped"] and checks[name]["error"] == "skipped: chat_model failed"
    # Checks that do not need the chat model still ran and passed.
    assert checks["environment"]["ok"] and checks["index_sample"]["ok"]


def test_modules_outside_names_imports_from_elsewhere() -> None:
    assert bundle_root() is None  # not frozen here
    outside = modules_outside(REPO / "core")
    assert any(line.startswith("pytest ") for line in outside)  # from the venv
    assert not any(line.startswith("core.self_test ") for line in outside)  # from core/
    assert modules_outside(Path(sys.prefix).anchor) == []  # everything is under "/"
