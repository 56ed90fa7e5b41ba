"""Generation first: background work yields the CPU while a model generates.

Why: on two cores, a reply streamed 97 tokens/s alone and 14.5 while a folder indexed in
another process. llama.cpp runs one thread a core and its threads spin-wait for each other at
every layer; one preempted by torch's embedding threads (one a core too) stalls the rest.

The signal crosses processes, because the CLI indexes in its own process, the app indexes in
its GUI process, and replies are generated in engine children. An engine child holds a shared
`flock` on `data_home()/generating.lock` while it generates (`generating()`), so two engines
generating at once (Compare) do not wait for each other, and the kernel drops the lock when
its holder dies: a killed engine child can never leave the flag raised, as a marker file
would. `generation_active()` asks whether any process holds it, without waiting.

Background work checks the flag between steps (a few microseconds) and, while it is raised,
runs on threads whose OS priority it lowered (Linux `SCHED_IDLE`: the thread runs only on CPU
time nothing else wants). A thread cannot raise its priority back without privileges, so
lowered work runs on a thread that ends with it: the next step starts at normal priority.
What was measured, and why this and not fewer torch threads or a pause alone, is written in
core/rag/embed.py next to the policy. Where fcntl or per-thread priorities are missing
(Windows, macOS), the flag or the lowering is a no-op and work runs as before.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from core.config import data_home

try:
    import fcntl
except ImportError:  # Windows: no flock; generation never looks active
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = "generating.lock"
# Checkers take this one briefly before probing the flag, so two checkers probing at the same
# instant do not see each other's probe as a generating engine.
_PROBE_FILE = "generating.probe"

T = TypeVar("T")


def lock_path(home: Path | None = None) -> Path:
    return (home or data_home()) / LOCK_FILE


@contextlib.contextmanager
def generating(home: Path | None = None) -> Iterator[None]:
    """Raise the 'a model is generating' flag for as long as the block runs."""
    if fcntl is None:
        yield
        return
    try:
        fd = os.open(lock_path(home), os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError:  # an unwritable data folder costs the courtesy, never the reply
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # waits only while a checker probes (microseconds)
        yield
    finally:
        os.close(fd)  # closing drops the lock; so does the process dying


def generation_active(home: Path | None = None) -> bool:
    """Whether any process (this one included) is generating with this data folder."""
    if fcntl is None:
        return False
    folder = home or data_home()
    try:
        fd = os.open(folder / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False  # no engine ever generated here
    try:
        try:
            probe = os.open(folder / _PROBE_FILE, os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError:
            return False
        try:
            fcntl.flock(probe, fcntl.LOCK_EX)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fd, fcntl.LOCK_UN)  # before the probe lock goes, for the next checker
            return False
        finally:
            os.close(probe)
    finally:
        os.close(fd)


# -- background work in this process -------------------------------------------------------
_marks = threading.local()


@contextlib.contextmanager
def background_work() -> Iterator[None]:
    """Mark the calling thread's work in the block as background work (bulk indexing):
    callees that can yield to generation (the embedder) do so. Interactive calls (a search
    query) stay unmarked and run at full speed whatever else is running."""
    depth = getattr(_marks, "depth", 0)
    _marks.depth = depth + 1
    try:
        yield
    finally:
        _marks.depth = depth


def in_background_work() -> bool:
    return getattr(_marks, "depth", 0) > 0


def lower_thread(tid: int | None = None) -> bool:
    """Lower a thread of this process (default: the calling one) to the idle priority class.

    One way for unprivileged processes: use it on threads that end with their work. Threads
    the lowered one starts afterwards inherit the class (OpenMP's pool, llama.cpp's workers).
    Returns False where the OS has no per-thread class (then nothing changed).
    """
    if not sys.platform.startswith("linux"):
        return False  # elsewhere setpriority would lower the whole process, GUI included
    tid = threading.get_native_id() if tid is None else tid
    try:
        os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
        return True
    except OSError:
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, tid, 19)
        return True
    except OSError:
        return False


def lower_process(pid: int) -> bool:
    """Lower every thread of a child process (on Linux, setpriority on a pid reaches only its
    main thread). For processes that do background work and end with it."""
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return False
    return all([lower_thread(tid) for tid in tids]) and bool(tids)


def call_in_thread(fn: Callable[[], T], name: str,
                   lower_when: Callable[[], bool] | None = None, poll_s: float = 0.05) -> T:
    """Run `fn` on a fresh thread and wait for it; its result, or its exception re-raised.

    While waiting, `lower_when()` is asked every `poll_s` seconds; once it says yes, the
    thread's priority is lowered for the rest of its work. The thread ends with `fn`, so the
    next call starts at normal priority again.
    """
    box: dict[str, object] = {}
    started = threading.Event()

    def run() -> None:
        box["tid"] = threading.get_native_id()
        started.set()
        try:
            box["result"] = fn()
        except BaseException as exc:  # re-raised in the caller
            box["error"] = exc

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    started.wait()
    while lower_when is not None and thread.is_alive():
        thread.join(poll_s)
        if thread.is_alive() and lower_when():
            lower_thread(int(box["tid"]))  # type: ignore[call-overload]
            lower_when = None
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["result"]  # type: ignore[return-value]
