"""Notice changes in a collection's folders, so the caller can re-index it.

`FolderWatcher` watches folders recursively with watchdog (inotify, FSEvents or
ReadDirectoryChangesW, whichever the platform has) and calls `on_change(collection)` once per
burst of changes to documents. It indexes nothing: `DocumentLibrary.index(name)` rescans the
folders and picks up new, changed and deleted files, skipping the unchanged ones cheaply.
No Qt here; the desktop turns the callback into a signal.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserver

from core.rag.parse import is_supported

log = logging.getLogger(__name__)

# A folder that cannot get native watches (inotify's per-user limit is often 8192 folders)
# is polled instead, this often: a full scan of a big tree each time is not free.
POLL_INTERVAL_S = 5.0
# Directory "modified" fires for any file written inside, documents or not; "opened",
# "closed_no_write" and "attrib" change nothing a re-index would see.
_FILE_EVENTS = {"created", "modified", "deleted", "moved", "closed"}
_DIR_EVENTS = {"created", "deleted", "moved"}  # a folder of documents came or went


class FolderWatcher:
    """Calls `on_change(collection)` when documents change in that collection's folders.

    `on_change` runs on the watcher's own thread, once per burst: events keep arriving
    within `debounce_s` of each other -> one call, `debounce_s` after the last of them (and at
    most `10 * debounce_s` after the first, so a long copy still shows progress). It is called
    for created, modified, deleted and moved files of the kinds we index
    (`core.rag.parse.is_supported`), and for folders created, deleted or moved, anywhere below
    a watched folder. Hidden files and folders (a name starting with '.') and other kinds
    (`.tmp`, Office lock files `~$name.docx`) are ignored. A call that raises is logged and
    the watcher goes on.

    A watched folder that does not exist, or that disappears, is not an error: it is skipped
    (its disappearance is reported as a change), and the next `watch()` for the collection
    watches it again if it is back. All methods may be called from any thread, including
    from inside `on_change`.
    """

    def __init__(self, on_change: Callable[[str], None], debounce_s: float = 2.0) -> None:
        self._on_change = on_change
        self._debounce_s = debounce_s
        self._max_delay_s = 10 * debounce_s
        # _admin serialises watch/unwatch/close; it is never taken on watchdog's thread, so
        # holding it while (un)scheduling cannot deadlock with a handler that is dispatching
        self._admin = threading.Lock()
        # _cond guards the fields below; held only briefly, never while calling out
        self._cond = threading.Condition()
        self._wanted: dict[str, set[str]] = {}  # collection -> folders
        self._due: dict[str, tuple[float, float]] = {}  # collection -> (first, last event)
        self._gone: set[str] = set()  # watched folders whose watch ended with the folder
        self._closed = False
        self._watches: dict[str, tuple[BaseObserver, ObservedWatch]] = {}  # folder -> watch
        self._observer: BaseObserver | None = None
        self._poller: BaseObserver | None = None
        self._thread: threading.Thread | None = None

    def watch(self, collection: str, folders: Iterable[str | Path]) -> None:
        """Watch these folders (recursively) for `collection`, replacing the folders it had.
        Folders that do not exist are skipped until the next call. Raises RuntimeError
        after `close()`."""
        wanted = {str(Path(f).expanduser().resolve()) for f in folders}
        with self._admin:
            if self._closed:
                raise RuntimeError("the folder watcher is closed")
            with self._cond:
                self._wanted[collection] = wanted
            self._sync()

    def unwatch(self, collection: str) -> None:
        """Stop watching the collection's folders; a pending call for it is dropped."""
        with self._admin:
            with self._cond:
                self._wanted.pop(collection, None)
                self._due.pop(collection, None)
            if not self._closed:
                self._sync()

    def close(self) -> None:
        """Stop watching and end the watcher's threads. Idempotent; pending calls are
        dropped. Called from inside `on_change`, it does not wait for that call to end."""
        with self._admin:
            with self._cond:
                if self._closed:
                    return
                self._closed = True
                self._wanted.clear()
                self._due.clear()
                self._cond.notify_all()
            self._watches.clear()
            for observer in (self._observer, self._poller):
                if observer is not None:
                    observer.stop()  # unschedules every watch and ends the emitters
                    observer.join()
            self._observer = self._poller = None
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def __enter__(self) -> FolderWatcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- watches ----------------------------------------------------------------------------
    def _sync(self) -> None:
        """Schedule the folders someone wants, unschedule the rest. Holds `_admin`."""
        with self._cond:
            wanted: set[str] = set().union(*self._wanted.values())
            gone, self._gone = self._gone, set()
        for folder in list(self._watches):
            if folder not in wanted or folder in gone:
                observer, handle = self._watches.pop(folder)
                try:
                    observer.unschedule(handle)
                except KeyError:  # watchdog dropped it already
                    pass
        for folder in sorted(wanted - set(self._watches)):
            if os.path.isdir(folder):
                self._schedule(folder)
            else:
                log.info("not watching %s: it is not a folder (yet)", folder)

    def _schedule(self, folder: str) -> None:
        handler = _Handler(folder, self._on_event)
        try:
            observer = self._native()
            self._watches[folder] = (observer, observer.schedule(handler, folder,
                                                                 recursive=True))
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):  # it went between check and watch
                log.info("not watching %s: %s", folder, exc)
                return
            # out of inotify watches or instances: polling still works, only slower
            log.warning("watching %s by polling every %g s: %s", folder, POLL_INTERVAL_S, exc)
            poller = self._polling()
            self._watches[folder] = (poller, poller.schedule(handler, folder, recursive=True))

    def _native(self) -> BaseObserver:
        if self._observer is None:
            self._observer = Observer()
            self._observer.start()
            self._dispatcher()
        return self._observer

    def _polling(self) -> BaseObserver:
        if self._poller is None:
            self._poller = PollingObserver(timeout=POLL_INTERVAL_S)
            self._poller.start()
            self._dispatcher()
        return self._poller

    # -- events -----------------------------------------------------------------------------
    def _on_event(self, folder: str, folder_gone: bool) -> None:
        """A relevant event under `folder` (on watchdog's thread): mark its collections due."""
        now = time.monotonic()
        with self._cond:
            if folder_gone:
                self._gone.add(folder)
            for collection, folders in self._wanted.items():
                if folder in folders:
                    first, _ = self._due.get(collection, (now, now))
                    self._due[collection] = (first, now)
            self._cond.notify_all()

    def _dispatcher(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="glassbox-folder-watch",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        """Wait for the quiet moment after each burst, then call `on_change` (no lock held)."""
        while True:
            with self._cond:
                ready: list[str] = []
                while not self._closed and not ready:
                    now = time.monotonic()
                    ready = [c for c, (first, last) in self._due.items()
                             if now - last >= self._debounce_s
                             or now - first >= self._max_delay_s]
                    if ready:
                        break
                    deadlines = [min(last + self._debounce_s, first + self._max_delay_s)
                                 for first, last in self._due.values()]
                    self._cond.wait(min(deadlines) - now if deadlines else None)
                if self._closed:
                    return
                for collection in ready:
                    del self._due[collection]
            for collection in ready:
                try:
                    self._on_change(collection)
                except Exception:  # the caller's bug must not stop watching
                    log.exception("folder watcher: on_change(%r) failed", collection)


class _Handler(FileSystemEventHandler):
    """Filters one watched folder's events down to changes to documents."""

    def __init__(self, folder: str, notify: Callable[[str, bool], None]) -> None:
        super().__init__()
        self.folder = folder
        self._notify = notify

    def dispatch(self, event: FileSystemEvent) -> None:
        kinds = _DIR_EVENTS if event.is_directory else _FILE_EVENTS
        if event.event_type not in kinds:
            return
        paths = [os.fsdecode(event.src_path), os.fsdecode(event.dest_path)]
        if not any(self._relevant(p, event.is_directory) for p in paths if p):
            return
        # the folder itself deleted or moved away: its watch has ended with it
        gone = event.event_type in ("deleted", "moved") and paths[0] == self.folder
        self._notify(self.folder, gone)

    def _relevant(self, path: str, is_directory: bool) -> bool:
        try:
            parts = Path(path).relative_to(self.folder).parts
        except ValueError:  # moved out of the watched tree: the source side counts
            return False
        if any(part.startswith(".") for part in parts):
            return False
        return is_directory or is_supported(Path(path))

