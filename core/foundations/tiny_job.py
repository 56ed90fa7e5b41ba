"""A tiny-transformer run in a child process: the window's way to train without stalling.

Training in a thread of the app would hold the GIL between torch calls (a few hundred small
Python steps a second) and slow the GUI thread; a child process has its own interpreter. The
child runs `core.foundations.tiny_train.train` and sends each event through a pipe; pause and
cancel are multiprocessing Events the training loop checks between steps.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import FoundationsError, GlassboxError
from core.foundations.tiny_data import check_not_empty
from core.foundations.tiny_events import Event, Finished
from core.foundations.tiny_model import TinyConfig
from core.foundations.tiny_train import Flag

_POLL_S = 0.1


def _child(conn: Any, cancel: Any, pause: Any, config: TinyConfig, text: str,
           tokenizer_gguf: str, run_dir: str, resume: bool) -> None:
    from core.foundations.tiny_train import train

    try:
        for event in train(config, text, tokenizer_gguf, run_dir, cancel=cancel, pause=pause,
                           resume=resume):
            conn.send(event)
    except GlassboxError as exc:
        conn.send(Finished("failed", 0, str(exc), None))
    except Exception as exc:  # report any crash as words rather than a dead pipe
        conn.send(Finished("failed", 0, f"Training failed: {type(exc).__name__}: {exc}", None))
    finally:
        conn.close()


class TinyJob:
    """One run in `run_dir`: start it, read its events, pause, resume, cancel."""

    def __init__(self, config: TinyConfig, text: str, tokenizer_gguf: str | Path,
                 run_dir: str | Path) -> None:
        config.validate()
        check_not_empty(text)  # before a process starts for nothing
        self.config, self.text = config, text
        self.tokenizer_gguf, self.run_dir = str(tokenizer_gguf), str(run_dir)
        self._context = multiprocessing.get_context("spawn")  # fork would copy the app's threads
        self._cancel = self._context.Event()
        self._pause = self._context.Event()
        self._process: Any = None
        self._conn: Any = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def start(self, resume: bool = False) -> None:
        if self.running:
            raise FoundationsError("This model is training already.")
        self._cancel.clear()
        self._pause.clear()
        receiver, sender = self._context.Pipe(duplex=False)
        self._process = self._context.Process(
            target=_child, name="glassbox-tiny-gpt", daemon=True,
            args=(sender, self._cancel, self._pause, self.config, self.text,
                  self.tokenizer_gguf, self.run_dir, resume))
        self._process.start()
        sender.close()
        self._conn = receiver

    def pause(self) -> None:
        """The child checkpoints, sends Paused and waits."""
        self._pause.set()

    def unpause(self) -> None:
        self._pause.clear()

    def cancel(self) -> None:
        """The child checkpoints and ends with Finished 'cancelled'."""
        self._cancel.set()

    def kill(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.kill()
        self._reap()

    def events(self, stop: Flag | None = None) -> Iterator[Event]:
        """The child's events until its Finished (one saying so if the child dies). Setting
        `stop` cancels the run even while it is paused and sends nothing."""
        if self._conn is None:
            raise FoundationsError("The run has not been started.")
        while True:
            if stop is not None and stop.is_set():
                self.cancel()
            try:
                event = self._conn.recv() if self._conn.poll(_POLL_S) else None
            except (EOFError, OSError):
                code = self._process.exitcode if self._process is not None else None
                self._reap()
                yield Finished("failed", 0, f"The training process ended unexpectedly "
                               f"(exit code {code}); resume it from its last checkpoint.",
                               None)
                return
            if event is None:
                continue
            yield event
            if isinstance(event, Finished):
                self._reap()
                return

    def _reap(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(10)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(5)
            self._process = None
