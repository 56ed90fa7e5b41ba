"""Connects the Models tab to the models worker: the library, the hub, transfers and the fit.

Other parts of the window listen to `library_changed` (the chat's model picker) and to
`use_requested` (a model path to load for chatting).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from core.models.starter import STARTER_MODELS
from desktop.models_worker import ModelsHandle, download_key, import_key
from ui.download_list_view import CANCELLED, DONE, FAILED, PAUSED, RUNNING, format_transfer
from ui.model_scan_view import ModelScanDialog
from ui.models_panel import DOWNLOAD, INSTALLED, ModelsPanel

if TYPE_CHECKING:  # the worker imports these modules; the GUI thread only needs the types
    from core.api import LoadSettings, ModelEntry
    from core.models.download import DownloadProgress, PartialDownload
    from core.models.hardware import HardwareInfo
    from core.models.hub import HubModel, HubRepo
    from core.models.scan import FoundModel


@dataclass(frozen=True)
class _Download:
    repo_id: str
    filename: str


class ModelsLibraryController(QObject):
    library_changed = Signal(list)  # list[ModelEntry]
    use_requested = Signal(str)  # path of a model to load for chatting

    def __init__(self, panel: ModelsPanel, parent: QObject | None = None,
                 show_error: Callable[[str], None] | None = None) -> None:
        super().__init__(parent)
        self._panel = panel
        self._show_error = show_error or panel.show_error
        self.handle = ModelsHandle(self)
        self.entries: list[ModelEntry] = []
        self.hardware: HardwareInfo | None = None
        self.settings: LoadSettings | None = None  # with the context length
        self.selected: str | None = None
        self.ready = False  # the first library list has arrived
        self.errors: list[str] = []  # every message shown, for tests and logs
        self._downloads: dict[str, _Download] = {}
        self._wanted_repo: str | None = None
        self._pending_import_select: set[str] = set()
        self.scan_dialog: ModelScanDialog | None = None
        self._connect_worker()
        self._connect_panel()
        panel.starters.set_models(STARTER_MODELS)

    def _connect_worker(self) -> None:
        lib, tr = self.handle.library, self.handle.transfers
        lib.library_changed.connect(self._on_library)
        lib.partials_found.connect(self._on_partials)
        lib.hardware_detected.connect(self._on_hardware)
        lib.settings_loaded.connect(self._on_settings_loaded)
        lib.search_done.connect(self._on_search_done)
        lib.repo_listed.connect(self._on_repo_listed)
        lib.errored.connect(self._error)
        lib.hub_failed.connect(self._on_hub_failed)
        tr.download_progress.connect(self._on_download_progress)
        tr.download_done.connect(self._on_download_done)
        tr.download_failed.connect(self._on_download_failed)
        tr.import_progress.connect(self._on_import_progress)
        tr.import_done.connect(self._on_import_done)
        tr.import_failed.connect(self._on_import_failed)
        tr.discarded.connect(self._on_discarded)

    def _connect_panel(self) -> None:
        p = self._panel
        p.model_selected.connect(self._on_selected)
        p.import_requested.connect(self.import_file)
        p.use_requested.connect(self._on_use)
        p.default_requested.connect(self.handle.set_default)
        p.remove_requested.connect(self.handle.remove)
        p.hub.search_requested.connect(self.handle.search)
        p.hub.repo_selected.connect(self._on_repo_selected)
        p.hub.download_requested.connect(self.download)
        p.starters.download_requested.connect(self.download)
        p.downloads.pause_requested.connect(self._on_pause)
        p.downloads.resume_requested.connect(self._on_resume)
        p.downloads.cancel_requested.connect(self._on_cancel)
        p.load_settings.settings_changed.connect(self._on_settings_changed)
        p.scan_button.clicked.connect(self.open_scan)

    def start(self) -> None:
        self.handle.start()

    def stop(self) -> None:
        self.handle.shutdown()

    def threads(self) -> list:
        return self.handle.threads()

    # -- intents ----------------------------------------------------------------------------
    def download(self, repo_id: str, filename: str) -> None:
        key = download_key(repo_id, filename)
        row = self._panel.downloads.rows.get(key)
        if row is not None and row.state == RUNNING:
            return  # already on its way
        self._downloads[key] = _Download(repo_id, filename)
        row = self._panel.downloads.row(key, f"{filename} · {repo_id}")
        row.set_state(RUNNING, "Waiting to start…")
        self.handle.download(repo_id, filename)

    def import_file(self, path: str, copy: bool) -> None:
        row = self._panel.downloads.row(import_key(path), f"Importing {Path(path).name}",
                                        pausable=False)
        row.set_state(RUNNING, "Checking the file…")
        self.handle.import_file(path, copy)

    def open_scan(self) -> ModelScanDialog:
        """Show *Find models on this computer* and start looking (on the scan thread)."""
        if self.scan_dialog is None:
            dialog = ModelScanDialog(self._panel)
            dialog.scan_requested.connect(self._on_scan_requested)
            dialog.register_requested.connect(self._on_register_requested)
            self.scan_dialog = dialog
        self.scan_dialog.show()
        self.scan_dialog.raise_()
        self.scan_dialog.request_scan()
        return self.scan_dialog

    def _on_scan_requested(self, folders: list[str]) -> None:
        dialog = self.scan_dialog
        if dialog is None:
            return
        self.handle.scan(folders, dialog.set_result,
                         lambda exc: self._on_scan_failed(f"The search failed: {exc}"),
                         dialog.show_progress)

    def _on_register_requested(self, found: list[FoundModel]) -> None:
        dialog = self.scan_dialog
        if dialog is None:
            return
        self.handle.register_found(
            found, lambda result: dialog.set_registered(*result),
            lambda exc: self._on_scan_failed(f"Could not add the models: {exc}"))

    def _on_scan_failed(self, message: str) -> None:
        self.errors.append(message)
        if self.scan_dialog is not None:
            self.scan_dialog.set_failed(message)

    def _on_use(self, name: str) -> None:
        entry = next((e for e in self.entries if e.name == name), None)
        if entry is not None:
            self.use_requested.emit(entry.path)

    def _on_pause(self, key: str) -> None:
        if key in self._downloads:
            d = self._downloads[key]
            self.handle.pause(d.repo_id, d.filename)

    def _on_resume(self, key: str) -> None:
        d = self._downloads.get(key)
        if d is not None:
            self.download(d.repo_id, d.filename)

    def _on_cancel(self, key: str) -> None:
        d = self._downloads.get(key)
        row = self._panel.downloads.rows.get(key)
        if d is not None:
            self.handle.cancel_download(d.repo_id, d.filename)
            if row is not None:
                row.detail.setText("Cancelling…")
        elif key.startswith("import:"):
            self.handle.cancel_import(key.removeprefix("import:"))

    def _on_repo_selected(self, repo_id: str) -> None:
        self._wanted_repo = repo_id
        self.handle.list_repo(repo_id)

    def _on_settings_changed(self, settings: LoadSettings) -> None:
        self.settings = settings
        self.handle.save_settings(settings)
        self._update_fit()

    def _on_selected(self, name: str | None) -> None:
        self.selected = name
        self._update_fit()

    # -- news from the worker ---------------------------------------------------------------
    def _error(self, message: str) -> None:
        self.errors.append(message)
        self._show_error(message)

    def _on_library(self, entries: list[ModelEntry]) -> None:
        self.entries = entries
        self.ready = True
        self._panel.set_models(entries)
        for entry in entries:  # select what was just imported or downloaded
            if entry.name in self._pending_import_select:
                self._pending_import_select.discard(entry.name)
                self._panel.library.select_name(entry.name)
        self.selected = self._panel.library.selected_name()
        self._update_fit()
        self.library_changed.emit(entries)

    def _on_partials(self, partials: list[PartialDownload]) -> None:
        """Downloads paused in an earlier session come back as rows one can resume."""
        for p in partials:
            key = download_key(p.repo_id, p.filename)
            if key in self._panel.downloads.rows:
                continue
            self._downloads[key] = _Download(p.repo_id, p.filename)
            row = self._panel.downloads.row(key, f"{p.filename} · {p.repo_id}")
            row.update_progress(p.bytes_done, p.total or 0,
                                format_transfer(p.bytes_done, p.total or 0, None, None))
            row.set_state(PAUSED)

    def _on_hardware(self, hw: HardwareInfo) -> None:
        self.hardware = hw
        self._panel.fit.set_hardware(hw)
        self._update_fit()

    def _on_settings_loaded(self, settings: LoadSettings) -> None:
        self.settings = settings
        self._panel.load_settings.set_settings(settings)
        self._update_fit()

    def _on_search_done(self, query: str, models: list[HubModel]) -> None:
        self._panel.hub.set_results(query, models)

    def _on_repo_listed(self, repo: HubRepo) -> None:
        if repo.repo_id == self._wanted_repo:  # not one the user has clicked away from
            self._panel.hub.set_repo(repo)

    def _on_hub_failed(self, message: str) -> None:
        self._panel.hub.set_state(message)
        self.errors.append(message)

    def _on_download_progress(self, event: DownloadProgress) -> None:
        key = download_key(event.repo_id, event.filename)
        row = self._panel.downloads.row(key, f"{event.filename} · {event.repo_id}")
        if event.stage == "verifying":
            text = "Checking the sha256… " + format_transfer(event.bytes_done, event.total,
                                                              None, None)
        elif event.stage == "retrying":
            text = f"Connection broke; resuming… ({event.message})"
        elif event.stage == "started" and event.message:
            text = f"Resuming at {format_transfer(event.bytes_done, event.total, None, None)}"
        else:
            text = format_transfer(event.bytes_done, event.total, event.speed_bps, event.eta_s)
        row.update_progress(event.bytes_done, event.total, text)
        if event.stage == "paused":
            row.set_state(PAUSED, "Paused at " + format_transfer(event.bytes_done, event.total,
                                                                 None, None))

    def _on_download_done(self, key: str, model: ModelEntry | None) -> None:
        row = self._panel.downloads.rows.get(key)
        if model is None:  # paused (or cancelled: a discard follows)
            if row is not None and row.state != PAUSED:
                row.set_state(PAUSED)
            return
        self._downloads.pop(key, None)
        if row is not None:
            row.set_state(DONE, f"Verified and added to the library as {model.name}.")
        self._select_when_listed(model)

    def _on_download_failed(self, key: str, message: str) -> None:
        row = self._panel.downloads.rows.get(key)
        if row is not None:
            # Retry resumes from what arrived, where the core kept it (a broken connection)
            # or starts over (a bad checksum deleted it).
            row.set_state(FAILED, message)
        self._error(message)

    def _on_discarded(self, key: str) -> None:
        self._downloads.pop(key, None)
        row = self._panel.downloads.rows.get(key)
        if row is not None:
            row.set_state(CANCELLED, "Cancelled; what had arrived was deleted.")

    def _on_import_progress(self, key: str, done: int, total: int) -> None:
        row = self._panel.downloads.rows.get(key)
        if row is not None:
            row.update_progress(done, total, "Copying… " + format_transfer(done, total, None,
                                                                           None))

    def _on_import_done(self, key: str, entry: ModelEntry | None) -> None:
        row = self._panel.downloads.rows.get(key)
        if entry is None:
            if row is not None:
                row.set_state(CANCELLED, "Import cancelled; nothing was added.")
            return
        self._panel.tabs.setCurrentIndex(INSTALLED)
        if row is not None:
            row.set_state(DONE, f"Added to the library as {entry.name}.")
        self._select_when_listed(entry)

    def _select_when_listed(self, entry: ModelEntry) -> None:
        """Select a model that just arrived, now or when the refreshed list comes."""
        if entry.name in self._panel.library.names():
            self._panel.library.select_name(entry.name)
        else:
            self._pending_import_select.add(entry.name)

    def _on_import_failed(self, key: str, message: str) -> None:
        row = self._panel.downloads.rows.get(key)
        if row is not None:
            row.set_state(FAILED, message)
        self._error(message)

    # -- the fit ----------------------------------------------------------------------------
    def _update_fit(self) -> None:
        from core.models.hardware import check_fit, ram_budget

        entry = next((e for e in self.entries if e.name == self.selected), None)
        if entry is None:
            self._panel.fit.set_fit("Select a model to see whether it fits.", None, None)
            return
        if self.hardware is None or self.settings is None:
            self._panel.fit.set_fit(entry.name, None, None)
            return
        # Arithmetic on facts already read (no file access), so it may run on this thread.
        report = check_fit(entry.facts, self.settings.n_ctx, self.hardware,
                           self.settings.kv_bytes_per_element)
        self._panel.fit.set_fit(entry.name, report, ram_budget(self.hardware))

    def show_download_tab(self) -> None:
        self._panel.tabs.setCurrentIndex(DOWNLOAD)

    def download_starter(self, repo_id: str, filename: str) -> None:
        """One click from elsewhere (the demo model's hint): show the Models tab's downloads
        and start this one there, where it can be followed, paused or cancelled."""
        self._panel.reveal_downloads()
        self.download(repo_id, filename)
