"""llama-cpp-python opened without touching the process's standard streams.

A quiet `Llama` (verbose off) silences llama.cpp by swapping the whole process's stdout and stderr
(file descriptors 1 and 2, and `sys.stdout`/`sys.stderr`) while a model loads: every other
thread's output vanishes meanwhile, and a crash then leaves them pointing at /dev/null. So every
`Llama` in core comes from `open_llama`, with `verbose=True` (nothing is swapped), and what that
would print is routed through `logging` instead, to the logger `glassbox.llama`:

- llama.cpp's own log (about 2,000 lines a load, through `llama_log_set`): debug and info lines
  at DEBUG, warnings and errors at WARNING (an error there comes before a failure that the core
  raises as a typed error with its own message; the record is the detail).
- llama-cpp-python's own prints with `verbose=True` (system info, the model's whole metadata,
  the chat format it guessed, prefix-cache hits) at DEBUG: `llama_cpp.llama` writes them with
  `print(..., file=sys.stderr)`, so a module-level `print` in that one module takes them.

Nothing reaches a terminal unless a handler is configured for it (the desktop app logs INFO and
up; warnings reach Python's last-resort handler where nothing is configured).
"""

from __future__ import annotations

import ctypes
import logging
import threading
from typing import Any

log = logging.getLogger("glassbox.llama")

# ggml's enum ggml_log_level (llama-cpp-python's _logger.py maps an older order: 2 as WARNING).
_NONE, _DEBUG, _INFO, _WARN, _ERROR, _CONT = range(6)
_LEVELS = {_NONE: logging.DEBUG, _DEBUG: logging.DEBUG, _INFO: logging.DEBUG,
           _WARN: logging.WARNING, _ERROR: logging.WARNING}


class _Lines:
    """llama.cpp sends some lines in pieces (a message, then CONT pieces such as the progress
    dots of a load): join them so that one line makes one record, at its first piece's level."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # loads can run in several threads of one process
        self._level = logging.DEBUG
        self._parts: list[str] = []

    def feed(self, level: int, text: str) -> None:
        done: list[tuple[int, str]] = []
        with self._lock:
            if level != _CONT:
                if self._parts:  # the previous message did not end its line
                    done.append((self._level, "".join(self._parts)))
                    self._parts = []
                self._level = _LEVELS.get(level, logging.DEBUG)
            if log.isEnabledFor(self._level):
                self._parts.append(text)
                if text.endswith("\n"):
                    done.append((self._level, "".join(self._parts)))
                    self._parts = []
        for record_level, line in done:
            line = line.rstrip("\n")
            if line.strip():
                log.log(record_level, "%s", line)


_lines = _Lines()


def _on_native_log(level: int, text: bytes | None, _user_data: Any) -> None:
    try:
        _lines.feed(int(level), (text or b"").decode("utf-8", errors="replace"))
    except Exception:  # noqa: BLE001 - an exception must not unwind into llama.cpp's C code
        pass


def _library_print(*values: object, sep: str | None = " ", end: str | None = "\n",
                   file: Any = None, flush: bool = False) -> None:
    """Stands for `print` inside `llama_cpp.llama` only (see the module docstring)."""
    text = (sep if sep is not None else " ").join(str(v) for v in values)
    if text.strip():
        log.debug("%s", text.rstrip("\n"))


_callback: Any = None  # the ctypes callback object: llama.cpp holds a bare pointer to it
_route_lock = threading.Lock()


def route_llama_log() -> None:
    """Send llama.cpp's log and llama-cpp-python's prints to `glassbox.llama` (idempotent).

    Imports llama_cpp (heavy): call it where a model is about to load.
    """
    global _callback
    import llama_cpp
    import llama_cpp.llama as llama_module

    with _route_lock:
        if _callback is None:
            _callback = llama_cpp.llama_log_callback(_on_native_log)
        # Set every time: importing llama_cpp installs its own callback, which prints to stderr.
        llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))
        llama_module.print = _library_print  # type: ignore[attr-defined]


def open_llama(model_path: str, **params: Any) -> Any:
    """`llama_cpp.Llama(model_path, **params)`, quiet on the terminal and with its log routed
    through `logging` (see the module docstring). Raises what `Llama` raises."""
    import llama_cpp

    route_llama_log()
    # verbose=True: a quiet Llama would swap fd 1 and 2 for the whole process.
    return llama_cpp.Llama(model_path=model_path, verbose=True, **params)
