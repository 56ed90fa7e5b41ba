"""Run one long lab job (quantize a model, compare two) in a child process that can be killed.

llama.cpp calls `abort()` on some malformed files and no `try` catches that, so the jobs that
load a user's model with llama.cpp run in a spawned child. The child sends plain events up a
pipe (progress, then one result or one error); the parent waits for them, checks its cancel
token between events, and kills the child to cancel. A child that dies without answering is
reported as an error that names the job, not as a crash of the app.
"""

from __future__ import annotations

import importlib
import multiprocessing
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Protocol

from core.background import generation_active, lower_process
from core.errors import Cancelled, GlassboxError

Progress = Callable[[int, int, str], None]  # done, total, what is happening now
_POLL_S = 0.1


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


class LabJobError(GlassboxError):
    """A lab job failed in its child process (llama.cpp refused the file, or the child died)."""


def _serve(conn: Connection, target: str, args: tuple[Any, ...]) -> None:
    """The child: call `module:function(*args, progress=...)` and send what comes of it."""
    module_name, function_name = target.split(":")

    def progress(done: int, total: int, what: str) -> None:
        conn.send(("progress", done, total, what))

    try:
        function = getattr(importlib.import_module(module_name), function_name)
        reply: tuple[Any, ...] = ("result", function(*args, progress=progress))
    except GlassboxError as exc:
        reply = ("error", exc)  # typed errors pickle: the parent raises the same type
    except MemoryError:
        reply = ("error", LabJobError("The job ran out of memory: use a shorter text or a "
                                      "smaller model."))
    except Exception as exc:  # a bug in the job must still reach the window as a message
        reply = ("error", LabJobError(f"The job failed ({type(exc).__name__}: {exc})."))
    conn.send(reply)
    conn.close()


def _death_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"it was stopped by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"it was stopped by signal {-exitcode}"
    return f"it exited with code {exitcode}"


def run_in_child(target: str, args: tuple[Any, ...], what: str,
                 progress: Progress | None = None, cancel: CancelToken | None = None,
                 tick: Callable[[], None] | None = None) -> Any:
    """Run `target` ("module:function") in a fresh child process and return its result.

    `what` names the job in error messages ("quantizing the model"). `tick` is called about
    ten times a second while waiting (quantize uses it to report the file growing). Raises
    Cancelled when `cancel` is set (the child is killed), the job's own typed error when it
    raised one, and LabJobError when the child died without answering (llama.cpp aborted).
    """
    context = multiprocessing.get_context("spawn")  # no fork: the parent holds threads
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_serve, args=(sender, target, args),
                              name="glassbox-lab", daemon=True)
    process.start()
    sender.close()
    lowered = False
    try:
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"Stopped {what}.")
            if not lowered and process.pid is not None and generation_active():
                # A reply is streaming: the job yields the CPU for the rest of its life (a
                # lowered thread cannot be raised again; threads it starts inherit it).
                lowered = lower_process(process.pid)
            try:
                ready = receiver.poll(_POLL_S)
                event = receiver.recv() if ready else None
            except (EOFError, OSError):
                process.join(5)
                raise LabJobError(f"The child process died while {what}: "
                                  f"{_death_reason(process.exitcode)}. llama.cpp may have "
                                  "refused the model file.") from None
            if event is None:
                if tick is not None:
                    tick()
                continue
            if event[0] == "progress":
                if progress is not None:
                    progress(int(event[1]), int(event[2]), str(event[3]))
            elif event[0] == "result":
                return event[1]
            else:
                error = event[1]
                raise error if isinstance(error, GlassboxError) else LabJobError(str(error))
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join(5)
        process.close()
