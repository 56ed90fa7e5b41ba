"""What the document library's worker threads share: a cancel board, and a worker that owns
one DocumentLibrary (an SQLite connection) made on its own thread.

The documents worker (collections, indexing) and the summaries worker (the chat model writing
a summary of each document) each own one, on their own JobThread, so a summary run that takes
minutes never holds up a click on a collection (desktop/documents_worker.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from core.api import GlassboxError

if TYPE_CHECKING:
    from core.api import DocumentLibrary

log = logging.getLogger(__name__)

LibraryFactory = Callable[[], "DocumentLibrary"]


class CancelBoard:
    """Thread-safe cancel state shared by a handle (GUI thread) and its worker.

    A cancel stops the run in progress and every run queued before it, but not runs asked for
    afterwards: each run gets a fresh Event, and requests up to `cancelled_upto` are dropped.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current = threading.Event()
        self._cancelled_upto = 0
        self._last_posted = 0

    def posted(self, request_id: int) -> None:
        with self._lock:
            self._last_posted = max(self._last_posted, request_id)

    def cancel(self) -> None:
        with self._lock:
            self._cancelled_upto = self._last_posted
            self._current.set()

    def begin(self, request_id: int) -> threading.Event | None:
        """The run's cancel token, or None when the request was cancelled before it began."""
        with self._lock:
            if request_id <= self._cancelled_upto:
                return None
            self._current = threading.Event()
            return self._current


class LibraryWorker(QObject):
    """Lives on its own thread and owns the only DocumentLibrary used there (made there on
    first use: the connection is its thread's)."""

    errored = Signal(str)

    def __init__(self, board: CancelBoard, factory: LibraryFactory | None = None) -> None:
        super().__init__()
        self._board = board
        self._factory = factory
        self._library: DocumentLibrary | None = None
        self._closing = threading.Event()

    # -- GUI thread -------------------------------------------------------------------------
    def close_soon(self) -> None:
        """Stop the run in progress and skip every request still queued."""
        self._closing.set()
        self._board.cancel()

    # -- worker thread ----------------------------------------------------------------------
    def _lib(self) -> DocumentLibrary:
        if self._library is None:
            if self._factory is not None:
                self._library = self._factory()
            else:
                # Imported here so the window shows before sqlite-vec and the parsers load.
                from core.api import DocumentLibrary

                self._library = DocumentLibrary()
        return self._library

    def _guarded(self, what: str, action: Callable[[DocumentLibrary], None]) -> bool:
        """Run `action` on the library; report a failure on `errored`. True if it worked."""
        if self._closing.is_set():
            return False
        try:
            action(self._lib())
        except GlassboxError as exc:
            self.errored.emit(str(exc))
            return False
        except Exception as exc:  # a bug must not kill the thread: report it, keep serving
            log.exception("%s: %s failed", type(self).__name__, what)
            self.errored.emit(f"Could not {what}: {exc}")
            return False
        return True

    def _close_library(self) -> None:
        library, self._library = self._library, None
        try:
            if library is not None:
                library.close()
        except Exception:  # the thread must end whatever state the connection is in
            log.exception("closing the document library failed")
