"""Fair turns at writing one SQLite file, for every thread and every process.

SQLite's write lock has no queue. A connection that cannot get it sleeps and retries (1 ms, then
longer, up to 100 ms at a time), so a writer that commits in a tight loop can hold the lock
almost all the time and starve a slower one until its busy timeout runs out: a chat reply or an
indexed document refused as "busy" while another part of the app writes.

So every Glassbox write first takes its turn here, and only then SQLite's lock:
- threads of one process queue in order of arrival (a ticket lock);
- processes take an exclusive `flock` on `<database>.write-lock`, held for the transaction.
  `flock` has no queue either, so a process that is waiting says so with a shared lock on
  `<database>.write-queue`, and a process about to take its next turn first lets those who
  were already waiting go (for at most `_YIELD_S`, so that it cannot be starved in return).

The turn is held only around the transaction, which is short (a message, one document's chunks,
a setting); nothing slow runs inside one.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:  # POSIX; elsewhere only the threads of one process are queued
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

# How long a process lets earlier waiters go first before it queues up itself.
_YIELD_S = 0.5
# How long a writer waits for its turn before the write is refused as busy. Long: the other
# side is another Glassbox process doing short transactions, not something that never ends.
WAIT_S = 30.0
_POLL_FIRST_S = 0.0005
_POLL_MAX_S = 0.005


class GateTimeout(Exception):
    """The turn did not come within WAIT_S (another process held the database that long)."""


class _TicketLock:
    """A re-entrant lock that threads get in the order they asked for it."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._next = 0
        self._serving = 0
        self._abandoned: set[int] = set()
        self._owner: int | None = None
        self._depth = 0

    def acquire(self, deadline: float) -> bool:
        """Wait for this thread's turn; False when it already holds the lock (re-entered)."""
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return False
            ticket = self._next
            self._next += 1
            try:
                while self._serving != ticket:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise GateTimeout
                    self._cond.wait(left)
            except BaseException:
                # A ticket that gives up must not stop the queue behind it.
                self._abandoned.add(ticket)
                if self._serving == ticket:
                    self._advance()
                raise
            self._owner = me
            self._depth = 1
            return True

    def held_here(self) -> bool:
        return self._owner == threading.get_ident()

    def release(self) -> None:
        with self._cond:
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._advance()

    def _advance(self) -> None:
        self._serving += 1
        while self._serving in self._abandoned:
            self._abandoned.discard(self._serving)
            self._serving += 1
        self._cond.notify_all()


class _ProcessLock:
    """The cross-process half: an flock held for the transaction, and a waiting room."""

    def __init__(self, database: Path) -> None:
        self._lock_path = database.with_name(database.name + ".write-lock")
        self._queue_path = database.with_name(database.name + ".write-queue")
        self._fds: tuple[int, int] | None = None

    def _open(self) -> tuple[int, int] | None:
        # Opened for each turn and closed after it: an open file would keep the data folder's
        # file system busy (it could not be unmounted), and opening costs microseconds beside
        # a commit's fsync. A folder where they cannot be made (read-only) gets no lock: the
        # write itself then fails there with SQLite's own error, which says why.
        try:
            lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return None
        try:
            queue_fd = os.open(self._queue_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            os.close(lock_fd)
            return None
        return lock_fd, queue_fd

    def acquire(self, deadline: float) -> None:
        fds = self._open()
        if fds is None:
            return
        lock_fd, queue_fd = fds
        try:
            self._let_waiters_go_first(queue_fd)
            fcntl.flock(queue_fd, fcntl.LOCK_SH)  # "I am waiting", seen by the others
            try:
                _poll(lock_fd, fcntl.LOCK_EX, deadline)
            finally:
                fcntl.flock(queue_fd, fcntl.LOCK_UN)
        except BaseException:
            _close(fds)
            raise
        self._fds = fds

    def release(self) -> None:
        if self._fds is not None:
            fds, self._fds = self._fds, None
            _close(fds)  # closing the descriptor releases its lock

    @staticmethod
    def _let_waiters_go_first(queue_fd: int) -> None:
        # Someone holds the waiting room shared while this process can take it exclusive
        # only when nobody waits; until then (or _YIELD_S) the others take their turns.
        deadline = time.monotonic() + _YIELD_S
        try:
            _poll(queue_fd, fcntl.LOCK_EX, deadline)
        except GateTimeout:
            return
        fcntl.flock(queue_fd, fcntl.LOCK_UN)


def _close(fds: tuple[int, int]) -> None:
    for fd in fds:
        os.close(fd)


def _poll(fd: int, kind: int, deadline: float) -> None:
    # Polled rather than blocking: a blocking flock cannot time out, and a stopped process
    # holding the lock must end in a clear "busy", not a frozen app.
    pause = _POLL_FIRST_S
    while True:
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise GateTimeout from None
            time.sleep(pause)
            pause = min(pause * 2, _POLL_MAX_S)


class WriteGate:
    """One database file's turn at writing, shared by every connection of this process."""

    def __init__(self, database: Path | None) -> None:
        self._threads = _TicketLock()
        self._process = _ProcessLock(database) if database and fcntl else None

    def held_here(self) -> bool:
        """Whether the calling thread has the turn now."""
        return self._threads.held_here()

    @contextmanager
    def turn(self, wait_s: float = WAIT_S) -> Iterator[None]:
        """Hold the turn for the block; raises GateTimeout after `wait_s` of waiting."""
        deadline = time.monotonic() + wait_s
        first = self._threads.acquire(deadline)
        try:
            if first and self._process is not None:
                self._process.acquire(deadline)
            try:
                yield
            finally:
                if first and self._process is not None:
                    self._process.release()
        finally:
            self._threads.release()


_gates: dict[str, WriteGate] = {}
_gates_lock = threading.Lock()


def gate_for(filename: str) -> WriteGate:
    """The gate of the database at `filename` (an apsw Connection's filename)."""
    on_disk = bool(filename) and filename != ":memory:" and not filename.startswith("file::")
    key = os.path.realpath(filename) if on_disk else f"memory:{filename}"
    with _gates_lock:
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = WriteGate(Path(key) if on_disk else None)
        return gate
