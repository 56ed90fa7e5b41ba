"""desktop/qt_prerequisites.py: the check main.py runs before Qt starts, on this machine's real
libraries (no fake loader: a soname that surely does not exist stands in for a missing one)."""

from __future__ import annotations

import _ctypes
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from desktop.qt_prerequisites import (
    XCB_LIBRARIES,
    MissingLibrary,
    SystemLibrary,
    check_qt_platform,
    install_message,
    missing_libraries,
    xcb_is_next,
)

REPO = Path(__file__).resolve().parent.parent
NOWHERE = SystemLibrary("libglassbox-nowhere.so.7", "glassbox-nowhere7", "glassbox-nowhere")
EXIT_QT_PREREQUISITES = 3  # main.py's
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 is Linux's")


def _qt_folder() -> Path:
    spec = importlib.util.find_spec("PySide6")
    assert spec is not None and spec.submodule_search_locations
    return Path(list(spec.submodule_search_locations)[0]) / "Qt"


def _xcb_plugin() -> Path:
    return _qt_folder() / "plugins" / "platforms" / "libqxcb.so"


@pytest.mark.parametrize(("environ", "platform", "expected"), [
    ({}, "linux", True),  # nothing set: Qt's default on Linux is xcb
    ({"DISPLAY": ":0"}, "linux", True),
    ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux", False),  # Qt 6 prefers Wayland
    ({"XDG_SESSION_TYPE": "wayland"}, "linux", False),
    ({"XDG_SESSION_TYPE": "x11", "DISPLAY": ":0"}, "linux", True),
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False),  # the tests and CI
    ({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
    ({"QT_QPA_PLATFORM": "XCB"}, "linux", True),
    ({"QT_QPA_PLATFORM": "xcb:nograb"}, "linux", True),
    ({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux", False),  # xcb only if Wayland fails
    ({"QT_QPA_PLATFORM": ""}, "linux", True),  # empty counts as unset, as in Qt
    ({}, "darwin", False),
    ({}, "win32", False),
])
def test_xcb_is_next(environ: dict[str, str], platform: str, expected: bool) -> None:
    assert xcb_is_next(environ, platform) is expected


@linux_only
def test_only_what_cannot_load_is_missing() -> None:
    present = SystemLibrary("libc.so.6", "libc6", "glibc")
    missing = missing_libraries([present, NOWHERE])
    assert [item.library for item in missing] == [NOWHERE]
    assert NOWHERE.soname in missing[0].reason  # the loader's own words


@linux_only
def test_a_copy_in_qts_own_folder_counts(tmp_path: Path) -> None:
    # Any real shared object will do as "the bundled copy": the interpreter's _ctypes module.
    shutil.copy(_ctypes.__file__, tmp_path / NOWHERE.soname)
    assert missing_libraries([NOWHERE], also_in=[tmp_path]) == []
    assert missing_libraries([NOWHERE], also_in=[tmp_path / "elsewhere"]) != []


def test_the_message_names_each_library_and_one_command_per_distribution() -> None:
    randr, shape, cursor = (next(lib for lib in XCB_LIBRARIES if lib.soname == name) for name in
                            ("libxcb-randr.so.0", "libxcb-shape.so.0", "libxcb-cursor.so.0"))
    text = install_message([
        MissingLibrary(randr, "libxcb-randr.so.0: cannot open shared object file"),
        MissingLibrary(shape, "libxcb-shape.so.0: cannot open shared object file"),
        MissingLibrary(cursor, "libxcb-render.so.0: cannot open shared object file"),
    ])
    for soname in ("libxcb-randr.so.0", "libxcb-shape.so.0", "libxcb-cursor.so.0"):
        assert soname in text
    commands = [line.strip() for line in text.splitlines() if "sudo" in line]
    assert commands == [
        "Debian/Ubuntu: sudo apt install libxcb-randr0 libxcb-shape0 libxcb-cursor0",
        "Fedora:        sudo dnf install libxcb xcb-util-cursor",  # one package, named once
    ]
    # Present but unloadable: the loader's reason says which dependency is the real gap.
    assert "libxcb-render.so.0: cannot open" in text


def test_offscreen_and_wayland_skip_the_check() -> None:
    for environ in ({"QT_QPA_PLATFORM": "offscreen"}, {"WAYLAND_DISPLAY": "wayland-0"}):
        said = io.StringIO()
        assert check_qt_platform(environ, said) is True
        assert said.getvalue() == ""


def test_the_check_runs_without_importing_qt() -> None:
    code = ("import io, sys\nfrom desktop.qt_prerequisites import check_qt_platform\n"
            "check_qt_platform({'QT_QPA_PLATFORM': 'xcb'}, io.StringIO())\n"
            "assert 'PySide6' not in sys.modules, 'PySide6 was imported'\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr


def _needed(library: Path) -> set[str]:
    """The NEEDED entries of a shared library's dynamic section (`readelf -d`)."""
    out = subprocess.run(["readelf", "-d", str(library)], capture_output=True, text=True,
                         check=True).stdout
    return set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out))


@linux_only
@pytest.mark.skipif(shutil.which("readelf") is None, reason="needs readelf (binutils)")
def test_the_list_matches_the_installed_xcb_plugin() -> None:
    qt = _qt_folder()
    plugin = _needed(_xcb_plugin()) | _needed(qt / "lib" / "libQt6XcbQpa.so.6")
    # Qt's own libraries, the C/C++ runtime and what QtCore itself needs fail at import, before
    # any platform plugin is chosen: not this check's business.
    before_any_platform = _needed(qt / "lib" / "libQt6Core.so.6")
    x11 = {name for name in plugin - before_any_platform if not name.startswith("libQt6")}
    listed = {lib.soname for lib in XCB_LIBRARIES}
    assert x11 <= listed, f"the xcb plugin needs libraries the check does not know: {x11 - listed}"
    gui = _needed(qt / "lib" / "libQt6Gui.so.6")
    assert listed <= plugin | gui, f"listed but not needed: {listed - plugin - gui}"


def _not_found_by_ldd() -> set[str]:
    """Which listed libraries the dynamic linker cannot find for the real xcb plugin, asked
    independently of the module under test."""
    out = subprocess.run(["ldd", str(_xcb_plugin())], capture_output=True, text=True).stdout
    not_found = set(re.findall(r"^\s*(\S+) => not found", out, re.M))
    return not_found & {lib.soname for lib in XCB_LIBRARIES}


@linux_only
@pytest.mark.skipif(shutil.which("ldd") is None, reason="needs ldd")
def test_the_app_on_this_machines_x11_libraries(tmp_path: Path) -> None:
    """`python main.py` as a user on an X11 desktop starts it (no Wayland, Qt's default
    platform), with a display that does not exist: where the plugin's libraries are missing it
    must name them and exit before Qt, and where none are, it must let Qt start."""
    expected = _not_found_by_ldd()
    env = {k: v for k, v in os.environ.items()
           if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE")}
    env.update(DISPLAY=":4242", GLASSBOX_HOME=str(tmp_path))
    run = subprocess.run([sys.executable, "main.py"], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=120)
    if expected:
        assert run.returncode == EXIT_QT_PREREQUISITES, run.stderr
        named = {lib.soname for lib in XCB_LIBRARIES if lib.soname in run.stderr}
        assert expected <= named, run.stderr
        assert "sudo apt install" in run.stderr and "sudo dnf install" in run.stderr
        assert "Could not load the Qt platform plugin" not in run.stderr  # Qt never started
    else:
        assert "cannot open its window" not in run.stderr
        assert run.returncode != 0  # Qt started and found no display at :4242


def test_an_offscreen_start_skips_the_check(tmp_path: Path) -> None:
    """How the tests and CI run the app: it opens even where the X11 libraries are missing."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", GLASSBOX_HOME=str(tmp_path))
    run = subprocess.run([sys.executable, "main.py", "--startup-probe"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert '"shown_ms"' in run.stdout
    assert "cannot open its window" not in run.stderr
