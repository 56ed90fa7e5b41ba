"""The model library off the GUI thread: one thread for the list and the hub, one for transfers.

Listing models reads GGUF headers (numpy and gguf load on first use), hub searches wait on the
network, and downloads and imports copy gigabytes, so none of it may run on the GUI thread.
Quick jobs (list, search, set default, remove, settings) run on the library thread; downloads
and imports run one after another on the transfer thread, so a search answers while a download
goes on. Pause and cancel are the calls that must reach a busy transfer: each transfer has a
`threading.Event` the GUI thread sets, which `download_events` and `import_file` check between
chunks, instead of waiting in the worker's queue.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QThread, Signal, SignalInstance

from core.api import Cancelled, GlassboxError, database_path
from desktop.job_thread import JobThread

if TYPE_CHECKING:
    from core.api import ChatStore, LoadSettings

log = logging.getLogger(__name__)

_STOP_WAIT_MS = 30_000
_SEARCH_LIMIT = 30


def download_key(repo_id: str, filename: str) -> str:
    return f"{repo_id}/{filename}"


def import_key(path: str) -> str:
    return f"import:{path}"


def _guarded(errored: SignalInstance, what: str, action: Callable[[], object]) -> bool:
    """Run `action`; report a failure on `errored` as a message. True if it worked."""
    try:
        action()
    except GlassboxError as exc:
        errored.emit(str(exc))
        return False
    except Exception as exc:  # a bug must not kill the thread: report it, keep serving
        log.exception("models worker: %s failed", what)
        errored.emit(f"Could not {what}: {exc}")
        return False
    return True


class LibraryWorker(QObject):
    """The library list, hub queries, the hardware and the load settings."""

    library_changed = Signal(list)  # list[ModelEntry]
    partials_found = Signal(list)  # list[PartialDownload]: paused downloads to resume
    hardware_detected = Signal(object)  # HardwareInfo
    settings_loaded = Signal(object)  # LoadSettings
    search_done = Signal(str, list)  # query, list[HubModel]
    repo_listed = Signal(object)  # HubRepo
    errored = Signal(str)
    hub_failed = Signal(str)  # a search or listing failed: the hub view says so in place

    def __init__(self) -> None:
        super().__init__()
        self._store: ChatStore | None = None
        self._closing = threading.Event()

    def close_soon(self) -> None:
        """GUI thread: skip every request still queued."""
        self._closing.set()

    def _run(self, what: str, action: Callable[[], object]) -> bool:
        return not self._closing.is_set() and _guarded(self.errored, what, action)

    def _settings_store(self) -> ChatStore:
        if self._store is None:
            from core.api import ChatStore

            self._store = ChatStore(database_path())  # this thread's own connection
        return self._store

    def start(self) -> None:
        from core.api import LoadSettings
        from core.models.hardware import detect_hardware
        from core.settings import read

        def settings() -> None:
            self.settings_loaded.emit(read(self._settings_store().settings, LoadSettings))

        self._run("read the load settings", settings)
        self.refresh()
        self._run("detect the hardware", lambda: self.hardware_detected.emit(detect_hardware()))

    def refresh(self) -> None:
        from core.api import ModelRegistry
        from core.models.download import partial_downloads

        def send() -> None:
            self.library_changed.emit(ModelRegistry().models())
            self.partials_found.emit(partial_downloads())

        self._run("read the model library", send)

    def set_default(self, name: str) -> None:
        from core.api import ModelRegistry

        self._run("set the default model", lambda: ModelRegistry().set_default(name))
        self.refresh()

    def remove(self, name: str, delete_file: bool) -> None:
        from core.api import ModelRegistry

        self._run("remove the model", lambda: ModelRegistry().remove(name,
                                                                     delete_file=delete_file))
        self.refresh()

    def search(self, query: str) -> None:
        from core.models.hub import search_models

        if self._closing.is_set():
            return
        _guarded(self.hub_failed, "search the hub",
                 lambda: self.search_done.emit(query, search_models(query, _SEARCH_LIMIT)))

    def list_repo(self, repo_id: str) -> None:
        from core.models.hub import repo_files

        if self._closing.is_set():
            return
        _guarded(self.hub_failed, "list the repository",
                 lambda: self.repo_listed.emit(repo_files(repo_id)))

    def save_settings(self, settings: LoadSettings) -> None:
        from core.settings import save as save_setting

        def save() -> None:
            save_setting(self._settings_store().settings, settings)

        # Not skipped when closing: a change made just before the window closed must stick.
        _guarded(self.errored, "save the load settings", save)

    def close(self) -> None:
        """On the library thread, when it stops: the settings connection."""
        store, self._store = self._store, None
        if store is not None:
            store.close()


class TransferWorker(QObject):
    """Downloads and imports, one at a time, each with its own pause/cancel token."""

    download_progress = Signal(object)  # DownloadProgress
    download_done = Signal(str, object)  # key, ModelEntry (None: paused)
    download_failed = Signal(str, str)  # key, message for a person
    import_progress = Signal(str, int, int)  # key, bytes copied, total
    import_done = Signal(str, object)  # key, ModelEntry (None: cancelled)
    import_failed = Signal(str, str)  # key, message for a person
    discarded = Signal(str)  # key: a paused download's data was deleted

    def __init__(self) -> None:
        super().__init__()
        self._closing = threading.Event()

    def close_soon(self) -> None:
        self._closing.set()

    def download(self, repo_id: str, filename: str, cancel: threading.Event) -> None:
        from core.models.download import download_events

        key = download_key(repo_id, filename)
        if self._closing.is_set():
            return
        model = None
        try:
            for event in download_events(repo_id, filename, cancel=cancel):
                self.download_progress.emit(event)
                model = event.model or model
        except GlassboxError as exc:
            self.download_failed.emit(key, str(exc))
            return
        except Exception as exc:  # a bug must not leave the row spinning forever
            log.exception("download of %s failed", key)
            self.download_failed.emit(key, f"The download of {filename} failed: {exc}")
            return
        self.download_done.emit(key, model)

    def discard(self, repo_id: str, filename: str) -> None:
        from core.models.download import discard_partial

        try:
            discard_partial(repo_id, filename)
        except OSError as exc:
            log.warning("could not delete the partial download %s: %s", filename, exc)
        self.discarded.emit(download_key(repo_id, filename))

    def import_file(self, path: str, copy: bool, cancel: threading.Event) -> None:
        from core.api import ModelRegistry

        key = import_key(path)
        if self._closing.is_set():
            return
        try:
            entry = ModelRegistry().import_file(
                path, copy=copy, cancel=cancel,
                progress=lambda done, total: self.import_progress.emit(key, done, total))
        except Cancelled:
            self.import_done.emit(key, None)
        except GlassboxError as exc:
            self.import_failed.emit(key, str(exc))
        except Exception as exc:
            log.exception("import of %s failed", path)
            self.import_failed.emit(key, f"Could not import {Path(path).name}: {exc}")
        else:
            self.import_done.emit(key, entry)



class ModelsHandle(QObject):
    """The GUI thread's side: owns both JobThreads, posts requests, holds the transfer tokens."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = LibraryWorker()
        self.transfers = TransferWorker()
        self._tokens: dict[str, threading.Event] = {}
        self.library_jobs = JobThread("glassbox-models", self, close=self.library.close,
                                      interrupt=self.library.close_soon,
                                      stop_wait_ms=_STOP_WAIT_MS)
        # Stopping pauses every transfer (partial downloads are kept for the next run).
        self.transfer_jobs = JobThread("glassbox-transfers", self,
                                       interrupt=self._pause_everything,
                                       stop_wait_ms=_STOP_WAIT_MS)
        # Searching other apps' folders (and the user's, which may be big) has a thread of
        # its own, so the library list and transfers answer while it looks.
        self.scan_jobs = JobThread("glassbox-model-scan", self, stop_wait_ms=_STOP_WAIT_MS)
        self.library_jobs.move_here(self.library)
        self.transfer_jobs.move_here(self.transfers)
        tr = self.transfers
        # A finished transfer changes the list: ask the library thread for it again.
        tr.download_done.connect(self._on_transfer_ended)
        tr.download_failed.connect(self._on_transfer_ended)
        tr.import_done.connect(self._on_transfer_ended)
        tr.discarded.connect(self._on_transfer_ended)

    @property
    def worker_thread(self) -> QThread:
        return self.library_jobs.qthread

    @property
    def transfer_thread(self) -> QThread:
        return self.transfer_jobs.qthread

    def threads(self) -> list[QThread]:
        return [self.worker_thread, self.transfer_thread, self.scan_jobs.qthread]

    def start(self) -> None:
        self.library_jobs.start()
        self.transfer_jobs.start()
        self.scan_jobs.start()
        self._on_library(self.library.start)

    def refresh(self) -> None:
        self._on_library(self.library.refresh)

    def set_default(self, name: str) -> None:
        self._on_library(lambda: self.library.set_default(name))

    def remove(self, name: str, delete_file: bool) -> None:
        self._on_library(lambda: self.library.remove(name, delete_file))

    def search(self, query: str) -> None:
        self._on_library(lambda: self.library.search(query))

    def list_repo(self, repo_id: str) -> None:
        self._on_library(lambda: self.library.list_repo(repo_id))

    def save_settings(self, settings: LoadSettings) -> None:
        # Kept: a change made just before the window closed must stick.
        self.library_jobs.call(lambda _ctx: self.library.save_settings(settings), keep=True)

    def download(self, repo_id: str, filename: str) -> None:
        """Start (or resume) a download; a paused one continues where it stopped."""
        token = threading.Event()
        self._tokens[download_key(repo_id, filename)] = token
        self._on_transfers(lambda: self.transfers.download(repo_id, filename, token))

    def pause(self, repo_id: str, filename: str) -> None:
        token = self._tokens.get(download_key(repo_id, filename))
        if token is not None:
            token.set()

    def cancel_download(self, repo_id: str, filename: str) -> None:
        """Stop the download and delete what arrived (after it stopped: same thread)."""
        self.pause(repo_id, filename)
        self._on_transfers(lambda: self.transfers.discard(repo_id, filename))

    def import_file(self, path: str, copy: bool) -> None:
        token = threading.Event()
        self._tokens[import_key(path)] = token
        self._on_transfers(lambda: self.transfers.import_file(path, copy, token))

    def cancel_import(self, path: str) -> None:
        token = self._tokens.get(import_key(path))
        if token is not None:
            token.set()

    def scan(self, folders: list[str], on_done: Callable[[Any], None],
             on_error: Callable[[BaseException], None],
             on_progress: Callable[..., None]) -> None:
        """Look for other apps' models (and in `folders`); the result (a ScanResult) comes to
        `on_done` on the GUI thread, as does each (files checked, where) progress step."""
        def job(ctx: Any) -> object:
            from core.models.scan import scan

            return scan(folders=folders, cancel=ctx.cancel_event, progress=ctx.progress)

        self.scan_jobs.cancel()  # a new search replaces one still looking
        self.scan_jobs.call(job, on_done, on_error, on_progress)

    def register_found(self, found: list[Any], on_done: Callable[[Any], None],
                       on_error: Callable[[BaseException], None]) -> None:
        """Add found models in place; `on_done` gets ([(found, library name)], [failures])."""
        def job(_ctx: Any) -> object:
            from core.models.scan import register

            added, failed = [], []
            for model in found:
                try:
                    added.append((model, register(model).name))
                except GlassboxError as exc:  # changed since the scan: say so, add the rest
                    failed.append(f"{model.name}: {exc}")
            return added, failed

        def done(result: Any) -> None:
            self.refresh()
            on_done(result)

        self.scan_jobs.call(job, done, on_error)

    def shutdown(self) -> None:
        """Pause every transfer, skip what is queued, end both threads."""
        for jobs in (self.library_jobs, self.transfer_jobs, self.scan_jobs):
            jobs.begin_stop()
        for jobs in (self.library_jobs, self.transfer_jobs, self.scan_jobs):
            jobs.join()

    def _pause_everything(self) -> None:
        for token in self._tokens.values():
            token.set()
        self.transfers.close_soon()

    def _on_transfer_ended(self, key: str, *_: Any) -> None:
        self._tokens.pop(key, None)
        self.refresh()

    def _on_library(self, action: Callable[[], object]) -> None:
        self.library_jobs.call(lambda _ctx: action())

    def _on_transfers(self, action: Callable[[], object]) -> None:
        self.transfer_jobs.call(lambda _ctx: action())
