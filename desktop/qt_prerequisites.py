"""Before Qt starts on Linux: can its X11 platform plugin (xcb) load here? If not, say what to
install and stop, instead of letting QApplication() abort the process.

PySide6's wheels ship Qt but not the X11 libraries its xcb plugin links against. On a minimal
Debian several are missing (libxcb-icccm4, libxcb-keysyms1, ...), and Qt then aborts with
"Could not load the Qt platform plugin "xcb"" and a hint that names libxcb-cursor0 whatever is
missing. Loading each library by its soname here takes a few milliseconds (about 3 ms for the
twenty, measured on the 2-core machine) and names exactly what is missing.

This module imports no Qt: main.py runs it before PySide6 is imported. It checks only when Qt
will start the xcb plugin first; offscreen runs (the tests, CI) and Wayland sessions skip it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TextIO


@dataclass(frozen=True)
class SystemLibrary:
    soname: str
    debian: str  # the Debian/Ubuntu package that holds it
    fedora: str  # the Fedora package that holds it


# What PySide6 6.12's platforms/libqxcb.so and lib/libQt6XcbQpa.so.6 list as NEEDED
# (`readelf -d`), less Qt's own libraries and the C/C++ runtime; tests/test_qt_prerequisites.py
# compares it with the installed plugin. Qt's documentation also names libxcb-xinerama0, but
# this plugin does not link it. Fedora keeps the core xcb extensions in one package, libxcb.
XCB_LIBRARIES = (
    SystemLibrary("libxcb-cursor.so.0", "libxcb-cursor0", "xcb-util-cursor"),
    SystemLibrary("libxcb-icccm.so.4", "libxcb-icccm4", "xcb-util-wm"),
    SystemLibrary("libxcb-image.so.0", "libxcb-image0", "xcb-util-image"),
    SystemLibrary("libxcb-keysyms.so.1", "libxcb-keysyms1", "xcb-util-keysyms"),
    SystemLibrary("libxcb-render-util.so.0", "libxcb-render-util0", "xcb-util-renderutil"),
    SystemLibrary("libxcb-util.so.1", "libxcb-util1", "xcb-util"),
    SystemLibrary("libxcb-randr.so.0", "libxcb-randr0", "libxcb"),
    SystemLibrary("libxcb-shape.so.0", "libxcb-shape0", "libxcb"),
    SystemLibrary("libxcb-xkb.so.1", "libxcb-xkb1", "libxcb"),
    SystemLibrary("libxcb-shm.so.0", "libxcb-shm0", "libxcb"),
    SystemLibrary("libxcb-sync.so.1", "libxcb-sync1", "libxcb"),
    SystemLibrary("libxcb-xfixes.so.0", "libxcb-xfixes0", "libxcb"),
    SystemLibrary("libxcb-render.so.0", "libxcb-render0", "libxcb"),
    SystemLibrary("libxcb.so.1", "libxcb1", "libxcb"),
    SystemLibrary("libX11-xcb.so.1", "libx11-xcb1", "libX11-xcb"),
    SystemLibrary("libX11.so.6", "libx11-6", "libX11"),
    SystemLibrary("libxkbcommon-x11.so.0", "libxkbcommon-x11-0", "libxkbcommon-x11"),
    SystemLibrary("libxkbcommon.so.0", "libxkbcommon0", "libxkbcommon"),
    SystemLibrary("libEGL.so.1", "libegl1", "mesa-libEGL"),
    SystemLibrary("libGL.so.1", "libgl1", "mesa-libGL"),
)


@dataclass(frozen=True)
class MissingLibrary:
    library: SystemLibrary
    reason: str  # the dynamic loader's own words


def xcb_is_next(environ: Mapping[str, str], platform: str = sys.platform) -> bool:
    """True when QApplication will start Qt's xcb plugin first.

    QT_QPA_PLATFORM, when set, decides ("wayland;xcb" tries Wayland first; "xcb:args" is xcb).
    Unset, Qt 6 on Linux prefers Wayland when WAYLAND_DISPLAY is set or XDG_SESSION_TYPE is
    wayland, and falls back to xcb otherwise.
    """
    if not platform.startswith("linux"):
        return False
    requested = environ.get("QT_QPA_PLATFORM", "")
    if requested:
        first = requested.split(";")[0].split(":")[0].strip().lower()
        return first == "xcb"
    wayland = "WAYLAND_DISPLAY" in environ or environ.get("XDG_SESSION_TYPE") == "wayland"
    return not wayland


def missing_libraries(libraries: Iterable[SystemLibrary],
                      also_in: Sequence[Path] = ()) -> list[MissingLibrary]:
    """The libraries the dynamic loader cannot load by soname, nor from a folder in `also_in`
    (where Qt's plugin would find a bundled copy through its RUNPATH)."""
    missing = []
    for library in libraries:
        reason = _load_error(library.soname, also_in)
        if reason is not None:
            missing.append(MissingLibrary(library, reason))
    return missing


def _load_error(soname: str, also_in: Sequence[Path]) -> str | None:
    import ctypes  # here: the offscreen and Wayland starts skip the check and this import

    try:
        ctypes.CDLL(soname)
        return None
    except OSError as error:
        reason = str(error)
    for folder in also_in:
        if (folder / soname).is_file():
            try:
                ctypes.CDLL(str(folder / soname))
                return None
            except OSError as error:
                reason = str(error)
    return reason


def _qt_library_folders() -> list[Path]:
    """PySide6's own Qt/lib folder, found without importing PySide6 (in a frozen app too)."""
    import importlib.util

    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(folder) / "Qt" / "lib" for folder in spec.submodule_search_locations]


def install_message(missing: Sequence[MissingLibrary]) -> str:
    """What is missing, and the one command per distribution that installs it."""
    lines = ["Glassbox cannot open its window: Qt's X11 platform plugin (xcb) needs system "
             "libraries that are missing here:"]
    for item in missing:
        line = f"  {item.library.soname} (Debian/Ubuntu: {item.library.debian}, " \
               f"Fedora: {item.library.fedora})"
        if item.library.soname not in item.reason:  # present, but its own dependency is not
            line += f": {item.reason}"
        lines.append(line)
    debian = " ".join(dict.fromkeys(item.library.debian for item in missing))
    fedora = " ".join(dict.fromkeys(item.library.fedora for item in missing))
    lines += [
        "Install them, then start Glassbox again:",
        f"  Debian/Ubuntu: sudo apt install {debian}",
        f"  Fedora:        sudo dnf install {fedora}",
        "(In a Wayland session, QT_QPA_PLATFORM=wayland uses Wayland instead of X11.)",
    ]
    return "\n".join(lines)


def check_qt_platform(environ: Mapping[str, str] | None = None,
                      stream: TextIO | None = None) -> bool:
    """False, after printing what to install, when Qt is about to start xcb and some of the
    libraries it needs cannot be loaded; True otherwise (not xcb, or nothing missing)."""
    environ = os.environ if environ is None else environ
    if not xcb_is_next(environ):
        return True
    missing = missing_libraries(XCB_LIBRARIES, _qt_library_folders())
    if not missing:
        return True
    print(install_message(missing), file=stream if stream is not None else sys.stderr)
    return False
