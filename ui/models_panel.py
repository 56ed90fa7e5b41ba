"""The Models tab: installed models, the hub and starter models, transfers, fit and settings.

A view only: importing, downloading, removing and loading are asked for through signals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.models.metadata import format_bytes
from ui.download_list_view import DownloadListView
from ui.engines_view import EnginesView
from ui.error_banner_view import ErrorBannerView
from ui.fit_view import FitView
from ui.hub_search_view import HubSearchView
from ui.inline_confirm_view import InlineConfirmView
from ui.load_settings_view import LoadSettingsView
from ui.model_library_view import ModelLibraryView
from ui.starter_models_view import StarterModelsView
from ui.theme import mark_secondary

if TYPE_CHECKING:
    from core.api import ModelEntry

GGUF_FILTER = "GGUF models (*.gguf);;All files (*)"
INSTALLED, DOWNLOAD, ENGINES = range(3)


def gguf_paths(mime: QMimeData) -> list[str]:
    """The local files in a drop; the importer tells a person why a non-GGUF one is refused."""
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]


class ModelsPanel(QWidget):
    model_selected = Signal(object)  # name or None
    import_requested = Signal(str, bool)  # path, copy into the data folder
    use_requested = Signal(str)  # name
    default_requested = Signal(str)
    remove_requested = Signal(str, bool)  # name, delete the file too

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.error_banner = ErrorBannerView()
        self.library = ModelLibraryView()
        self.import_button = QPushButton("Import GGUF…")
        self.import_button.setToolTip("Add a .gguf file from this computer (or drop it here)")
        self.copy_check = QCheckBox("Copy into Glassbox's folder")
        self.copy_check.setChecked(True)
        self.copy_check.setToolTip("Off: use the file where it is (moving it breaks the entry)")
        self.scan_button = QPushButton("Find models on this computer…")
        self.scan_button.setToolTip("GGUF models that Ollama, LM Studio, GPT4All or Jan "
                                    "downloaded (or in a folder you choose): add them "
                                    "without copying")
        self.use_button = QPushButton("Use in chat")
        self.default_button = QPushButton("Set as default")
        self.default_button.setToolTip("The model loaded at start and by `glassbox ask`")
        self.remove_button = QPushButton("Remove…")
        self.confirm = InlineConfirmView("Remove")
        self.starters = StarterModelsView()
        self.hub = HubSearchView()
        self.downloads = DownloadListView()
        self.fit = FitView()
        self.load_settings = LoadSettingsView()
        self.engines = EnginesView()
        self.tabs = QTabWidget()
        self._pending_delete: dict[str, bool] = {}
        self._build_layout()
        self._connect()
        self._update_actions()

    def _build_layout(self) -> None:
        installed = QWidget()
        column = QVBoxLayout(installed)
        column.setContentsMargins(6, 6, 6, 6)
        bar = QHBoxLayout()
        bar.addWidget(self.import_button)
        bar.addWidget(self.copy_check)
        bar.addWidget(self.scan_button)
        bar.addStretch(1)
        for button in (self.use_button, self.default_button, self.remove_button):
            bar.addWidget(button)
        column.addLayout(bar)
        column.addWidget(self.confirm)
        column.addWidget(self.library, 1)
        hint = QLabel("Drop .gguf files here to import them.")
        mark_secondary(hint)  # quieter, still AA
        column.addWidget(hint)
        download = QWidget()
        dl = QVBoxLayout(download)
        dl.setContentsMargins(6, 6, 6, 6)
        starters = QGroupBox("Starter models: small chat models that run on most computers")
        box = QVBoxLayout(starters)
        box.addWidget(self.starters)
        self.starters.setMaximumHeight(170)
        search = QGroupBox("Search Hugging Face")
        box = QVBoxLayout(search)
        box.addWidget(self.hub)
        dl.addWidget(starters)
        dl.addWidget(search, 1)
        self.tabs.addTab(installed, "Installed")
        self.tabs.addTab(download, "Download")
        self.tabs.addTab(self.engines, "Remote engines")
        side = QWidget()
        right = QVBoxLayout(side)
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.fit)
        right.addWidget(self.load_settings)
        right.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        # Only vertical scrolling: the labels wrap to the column's width instead.
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(340)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.tabs)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 1)
        splitter.setSizes([780, 370])
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.error_banner)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.downloads)

    def _connect(self) -> None:
        self.import_button.clicked.connect(self.ask_import)
        self.use_button.clicked.connect(self._on_use)
        self.default_button.clicked.connect(self._on_default)
        self.remove_button.clicked.connect(self.ask_remove)
        self.confirm.confirmed.connect(self._on_remove_confirmed)
        self.library.itemSelectionChanged.connect(self._on_selection)
        self.library.itemDoubleClicked.connect(lambda _item: self._on_use())

    # -- what the controller calls ----------------------------------------------------------
    def set_models(self, entries: Sequence[ModelEntry]) -> None:
        self.library.set_models(entries)
        self._update_actions()

    def show_error(self, message: str) -> None:
        self.error_banner.show_message(message)

    def reveal_downloads(self) -> None:
        """Bring this panel's Download page to the front, and the panel itself when it is a
        page of a tab widget (the window's Models tab), so a download started elsewhere is
        seen as it runs."""
        self.tabs.setCurrentIndex(DOWNLOAD)
        stack = self.parentWidget()
        tabs = stack.parentWidget() if stack is not None else None
        if isinstance(tabs, QTabWidget):
            tabs.setCurrentWidget(self)

    # -- intents ----------------------------------------------------------------------------
    def ask_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a GGUF model", "", GGUF_FILTER)
        if path:
            self.import_paths([path])

    def import_paths(self, paths: Sequence[str]) -> None:
        copy = self.copy_check.isChecked()
        for path in paths:
            self.import_requested.emit(path, copy)

    def ask_remove(self) -> None:
        entry = self.library.selected_entry()
        if entry is None or entry.source == "bundled":
            return
        size = format_bytes(entry.facts.file_size)
        if entry.managed:
            question = (f"Remove “{entry.name}” and delete its file ({size})? A downloaded "
                        "model has to be downloaded again to get it back.")
        else:
            question = (f"Remove “{entry.name}” from the library? The file stays where it is: "
                        f"{entry.path}")
        self._pending_delete = {entry.name: entry.managed}
        self.confirm.ask(entry.name, question)

    # -- drag and drop ----------------------------------------------------------------------
    def handle_drop(self, mime: QMimeData) -> bool:
        paths = gguf_paths(mime)
        if paths:
            self.tabs.setCurrentIndex(INSTALLED)
            self.import_paths(paths)
        return bool(paths)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if gguf_paths(event.mimeData()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802 (Qt override)
        if gguf_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        if self.handle_drop(event.mimeData()):
            event.acceptProposedAction()

    # -- internals --------------------------------------------------------------------------
    def _on_selection(self) -> None:
        self.confirm.hide()
        self._update_actions()
        self.model_selected.emit(self.library.selected_name())

    def _on_use(self) -> None:
        entry = self.library.selected_entry()
        if entry is not None and not entry.missing:
            self.use_requested.emit(entry.name)

    def _on_default(self) -> None:
        name = self.library.selected_name()
        if name is not None:
            self.default_requested.emit(name)

    def _on_remove_confirmed(self, name: str) -> None:
        self.remove_requested.emit(name, self._pending_delete.pop(name, False))

    def _update_actions(self) -> None:
        entry = self.library.selected_entry()
        usable = entry is not None and not entry.missing
        self.use_button.setEnabled(usable)
        self.default_button.setEnabled(usable and entry is not None and not entry.is_default)
        self.remove_button.setEnabled(entry is not None and entry.source != "bundled")
        self.remove_button.setToolTip("Bundled models ship with Glassbox and stay"
                                      if entry is not None and entry.source == "bundled"
                                      else "Remove the selected model from the library")
