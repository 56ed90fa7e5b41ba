"""The packaging helpers on real files: trimming rules, duplicate linking, the size report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "packaging"))
from dedupe import duplicate_groups, link_duplicates  # noqa: E402
from size_report import size_report  # noqa: E402
from trim import keep_entry, orphaned_libraries  # noqa: E402


def test_trim_rules_leave_out_what_the_app_never_opens() -> None:
    assert not keep_entry("PySide6/Qt/translations/qtbase_de.qm")
    assert not keep_entry("torch/test/test_nn.py")
    assert not keep_entry("PySide6/Qt/plugins/platformthemes/libqgtk3.so")
    assert not keep_entry("sklearn/utils/tests/test_validation.py")
    assert keep_entry("PySide6/Qt/plugins/platforms/libqxcb.so")
    assert keep_entry("torch/lib/libtorch_cpu.so")
    assert not keep_entry("torch/bin/protoc") and keep_entry("torch/bin/torch_shm_manager")
    assert keep_entry("resources/sample_docs/01-tokens.md")


def test_libraries_only_a_dropped_plugin_needs_go_with_it() -> None:
    links = {
        "/s/gtk-plugin.so": ["libgtk.so", "libc.so"],
        "/s/libgtk.so": ["libcairo.so", "libglib.so"],
        "/s/libcairo.so": [],
        "/s/libglib.so": [],
        "/s/xcb-plugin.so": ["libglib.so"],
        "/s/libc.so": [],
    }
    kept = [("libgtk.so", "/s/libgtk.so"), ("libcairo.so", "/s/libcairo.so"),
            ("libglib.so", "/s/libglib.so"), ("libc.so", "/s/libc.so"),
            ("PySide6/plugins/xcb-plugin.so", "/s/xcb-plugin.so")]
    dropped = [("PySide6/plugins/gtk-plugin.so", "/s/gtk-plugin.so")]
    orphans = orphaned_libraries(kept, dropped, lambda src: links[src])
    # glib stays (the kept xcb plugin needs it); libc goes: here nothing kept links to it.
    assert orphans == {"libgtk.so", "libcairo.so", "libc.so"}


def test_identical_copies_in_one_folder_become_links(tmp_path: Path) -> None:
    lib = tmp_path / "llama_cpp" / "lib"
    lib.mkdir(parents=True)
    payload = os.urandom(10_000)
    for name in ("libllama.so", "libllama.so.0", "libllama.so.0.5.0"):
        (lib / name).write_bytes(payload)
    (lib / "libggml.so").write_bytes(os.urandom(10_000))  # same size, other bytes
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "libllama.so").write_bytes(payload)  # another folder: left alone

    assert [len(g) for g in duplicate_groups(tmp_path)] == [3]
    saved = link_duplicates(tmp_path)
    assert saved == 2 * len(payload)
    assert (lib / "libllama.so").is_symlink() and (lib / "libllama.so.0").is_symlink()
    assert os.readlink(lib / "libllama.so") == "libllama.so.0.5.0"
    assert (lib / "libllama.so").read_bytes() == payload
    assert not (lib / "libggml.so").is_symlink() and not (other / "libllama.so").is_symlink()
    assert duplicate_groups(tmp_path) == []


def test_size_report_counts_links_once(tmp_path: Path) -> None:
    app = tmp_path / "Glassbox"
    (app / "_internal" / "torch" / "lib").mkdir(parents=True)
    (app / "Glassbox").write_bytes(b"x" * 2**20)
    (app / "_internal" / "torch" / "lib" / "libtorch_cpu.so").write_bytes(b"x" * 3 * 2**20)
    (app / "_internal" / "torch" / "lib" / "libtorch.so").symlink_to("libtorch_cpu.so")
    report = size_report(app)
    assert report["total_mb"] == 4.0 and report["files"] == 2
    assert report["parts_mb"] == {"torch/lib": 3.0, "(top-level files)": 1.0}


@pytest.mark.parametrize("script", ["dedupe.py", "size_report.py"])
def test_packaging_scripts_say_when_nothing_was_built(tmp_path: Path, script: str) -> None:
    run = subprocess.run([sys.executable, str(REPO / "packaging" / script),
                          str(tmp_path / "nope")], capture_output=True, text=True)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "build the app first" in run.stderr


def test_size_report_json(tmp_path: Path) -> None:
    (tmp_path / "Glassbox").write_bytes(b"x" * 2**20)
    run = subprocess.run([sys.executable, str(REPO / "packaging" / "size_report.py"),
                          str(tmp_path), "--json"], capture_output=True, text=True, check=True)
    assert json.loads(run.stdout)["total_mb"] == 1.0
