"""The packaged app: build dist/Glassbox/ (when missing or older than the sources) and run it
with Python's own environment out of the way. Marked slow: `make package-test` runs it (CI does,
after `make test`); tests/packaging/conftest.py keeps it out of a plain `make test`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "dist" / "Glassbox"
EXE = APP / "Glassbox"
# What the app is built from: a change to any of these makes dist/ stale (the screenshots for
# the README are not packaged).
SOURCES = ("main.py", "core", "ui", "desktop", "resources", "packaging", "pyproject.toml")
NOT_PACKAGED = (REPO / "resources" / "screenshots",)
BUILD_TIMEOUT_S = 45 * 60
RUN_TIMEOUT_S = 15 * 60

sys.path.insert(0, str(REPO / "packaging"))
from dedupe import duplicate_groups  # noqa: E402
from trim import keep_entry  # noqa: E402

# pytest-timeout's default (300 s) would cut the first build short: the build runs in the
# module fixture, inside the first test's time.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(BUILD_TIMEOUT_S + RUN_TIMEOUT_S)]


def _newest_source_mtime() -> float:
    newest = 0.0
    for name in SOURCES:
        root = REPO / name
        paths = [root] if root.is_file() else root.rglob("*")
        for path in paths:
            if path.is_file() and "__pycache__" not in path.parts \
                    and not any(path.is_relative_to(skip) for skip in NOT_PACKAGED):
                newest = max(newest, path.stat().st_mtime)
    return newest


@pytest.fixture(scope="module")
def app() -> Path:
    """dist/Glassbox/, built by packaging/build.sh if it is missing or stale."""
    if not EXE.is_file() or EXE.stat().st_mtime < _newest_source_mtime():
        build = subprocess.run(["bash", "packaging/build.sh"], cwd=REPO, capture_output=True,
                               text=True, timeout=BUILD_TIMEOUT_S,
                               env=dict(os.environ, PYTHON=sys.executable))
        assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-5000:]
    assert EXE.is_file()
    return APP


def _clean_run(args: list[str], tmp: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run the app from another folder with a bare environment: no PYTHONPATH, no venv on
    PATH, a fresh HOME and data folder. Nothing can come from the repo or the venv."""
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "GLASSBOX_HOME": str(tmp / "data"),
           **extra}
    return subprocess.run([str(EXE), *args], cwd=tmp, env=env, capture_output=True,
                          text=True, timeout=RUN_TIMEOUT_S)


def test_packaged_self_test_passes_with_python_out_of_the_way(app: Path,
                                                              tmp_path: Path) -> None:
    run = _clean_run(["--self-test"], tmp_path)
    assert run.returncode == 0, run.stderr[-5000:]
    report = json.loads(run.stdout)
    assert report["ok"] and report["frozen"], report["failed"]
    checks = {c["name"]: c for c in report["checks"]}
    env = checks["environment"]["details"]
    bundle = Path(env["bundle"])
    assert bundle == (app / "_internal").resolve()
    assert env["sys_path"] and all(Path(p).resolve().is_relative_to(bundle)
                                   for p in env["sys_path"])
    # The models came out of the bundle, not out of site-packages.
    assert Path(checks["chat_model"]["details"]["path"]).is_relative_to(bundle)
    assert checks["grounded_answer"]["details"]["sources"] >= 1
    assert checks["attention"]["details"]["layers"] == 30


def test_packaged_window_shows(app: Path, tmp_path: Path) -> None:
    run = _clean_run(["--startup-probe"], tmp_path, QT_QPA_PLATFORM="offscreen")
    assert run.returncode == 0, run.stderr[-5000:]
    probe = json.loads(run.stdout.strip().splitlines()[-1])
    assert probe["frozen"] is True and probe["shown_ms"] > 0
    assert "torch" not in probe["heavy"]  # heavy imports stay off the start path, packaged too


def test_packaged_cli_answers(app: Path, tmp_path: Path) -> None:
    run = _clean_run(["ask", "--json", "--max-tokens", "8", "--temperature", "0",
                      "Name a colour."], tmp_path)
    assert run.returncode == 0, run.stderr[-5000:]
    assert json.loads(run.stdout)["completion_tokens"] >= 1


def test_packaged_app_is_trimmed_and_has_its_desktop_files(app: Path) -> None:
    internal = app / "_internal"
    bundled = [str(p.relative_to(internal)) for p in internal.rglob("*") if p.is_file()]
    left_in = [p for p in bundled if not keep_entry(p)]
    assert not left_in, left_in[:20]
    assert not (internal / "resources" / "screenshots").exists()
    assert not duplicate_groups(app), "identical copies left after packaging/dedupe.py"
    assert (app / "share" / "glassbox.desktop").is_file()
    assert (app / "share" / "icons" / "glassbox.svg").is_file()
    assert (app / "install-linux.sh").is_file()
