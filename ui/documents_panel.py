"""The Documents tab: collections on the left, their files on the right, indexing below.

A view only: every change (create, add, remove, index, cancel) is asked for through a signal.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING

from PySide6.QtCore import QMimeData, QPoint, Qt, Signal, SignalInstance
from PySide6.QtGui import (
    QAction,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ui.collection_list_view import CollectionListView
from ui.collection_name_view import CollectionNameView
from ui.document_table_view import DocumentTableView
from ui.index_progress_view import IndexProgressView
from ui.inline_confirm_view import InlineConfirmView

if TYPE_CHECKING:  # numpy and SQLite stay off the start path: only types are needed
    from core.api import CollectionInfo, DocumentInfo

FILE_FILTER = ("Documents (*.pdf *.docx *.md *.markdown *.html *.htm *.xhtml *.txt *.text *.rst);;"
               "All files (*)")
_WELCOME, _EMPTY, _TABLE = range(3)
_WELCOME_TEXT = (
    "<h2>Chat with your own documents</h2>"
    "<p>Put PDFs, Word documents, Markdown, HTML and text files into a <b>collection</b>. "
    "Glassbox reads them here on your computer, cuts them into passages and indexes them, "
    "so that a chat can answer from them and show which file and page each answer comes from.</p>"
    "<p>Start with a folder of notes or papers, or drag files and folders onto this window."
    "</p>")
_EMPTY_TEXT = ("<p>This collection is empty.</p><p>Use <b>Add files…</b> or <b>Add folder…</b>, "
               "or drag files and folders here.</p>")


def suggested_name(paths: Sequence[str]) -> str:
    """A collection name from what was added: the folder's name, or the first file's."""
    if not paths:
        return ""
    first = PurePath(paths[0])
    return first.stem if first.suffix else first.name


class DocumentsPanel(QWidget):
    collection_selected = Signal(str)
    create_requested = Signal(str, list)  # name, paths to add to it (may be empty)
    add_paths_requested = Signal(str, list)  # collection, file and folder paths
    remove_documents_requested = Signal(str, list)  # collection, file paths
    remove_collection_requested = Signal(str)
    reindex_requested = Signal(str)
    retry_failed_requested = Signal(str)
    summarize_requested = Signal(str)
    auto_summaries_toggled = Signal(bool)
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.collections = CollectionListView()
        self.collections.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.name_view = CollectionNameView()
        self.new_button = QPushButton("New collection…")
        self.title = QLabel(textFormat=Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.title.setFont(font)
        self.add_files_button = QPushButton("Add files…")
        self.add_folder_button = QPushButton("Add folder…")
        self.remove_button = QPushButton("Remove")
        self.reindex_button = QPushButton("Re-index")
        self.reindex_button.setToolTip("Look for new, changed and deleted files and index them")
        self.retry_button = QPushButton("Retry failed")
        self.retry_button.setToolTip("Try the files that failed again (after you fixed them)")
        self.summarize_button = QPushButton("Summarize")
        self.summarize_button.setToolTip(
            "Let the chat model write a few sentences about each document that has no summary "
            "yet (in the background; hover a file's name to read its summary)")
        self.auto_summaries = QCheckBox("Summarize after indexing")
        self.auto_summaries.setChecked(True)
        self.auto_summaries.setToolTip(
            "After new or changed files are indexed, let the chat model summarize them in the "
            "background")
        self.confirm = InlineConfirmView("Remove")
        self.table = DocumentTableView()
        self.stack = QStackedWidget()
        self.progress = IndexProgressView()
        self._infos: dict[str, CollectionInfo] = {}
        self._build_layout()
        self._connect()
        self._update_actions()

    def _build_layout(self) -> None:
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(6, 6, 0, 6)
        heading = QLabel("Collections")
        bold = heading.font()
        bold.setBold(True)
        heading.setFont(bold)
        column.addWidget(heading)
        column.addWidget(self.collections, 1)
        column.addWidget(self.name_view)
        column.addWidget(self.new_button)
        column.addWidget(self.auto_summaries)
        self.toolbar = QWidget()
        bar = QHBoxLayout(self.toolbar)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.title, 1)
        for button in (self.add_files_button, self.add_folder_button, self.remove_button):
            bar.addWidget(button)
        bar.addSpacing(12)
        bar.addWidget(self.reindex_button)
        bar.addWidget(self.retry_button)
        bar.addWidget(self.summarize_button)
        self.stack.addWidget(self._page(_WELCOME_TEXT, welcome=True))
        self.stack.addWidget(self._page(_EMPTY_TEXT, welcome=False))
        self.stack.addWidget(self.table)
        right = QWidget()
        main = QVBoxLayout(right)
        main.setContentsMargins(0, 6, 6, 6)
        main.addWidget(self.toolbar)
        main.addWidget(self.confirm)
        main.addWidget(self.stack, 1)
        main.addWidget(self.progress)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([260, 840])
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    def _page(self, html: str, welcome: bool) -> QWidget:
        page = QWidget()
        text = QLabel(html, wordWrap=True, textFormat=Qt.TextFormat.RichText)
        text.setMaximumWidth(520)
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        # Centred by stretches, not an alignment flag: an aligned label gets its one-line
        # height, not its height for the width, and the hint's second line was cut off.
        centred = QHBoxLayout()
        centred.addStretch(1)
        centred.addWidget(text, 10)
        centred.addStretch(1)
        layout.addLayout(centred)
        if welcome:
            folder = QPushButton("Add a folder…")
            files = QPushButton("Add files…")
            folder.clicked.connect(self.ask_folder)
            files.clicked.connect(self.ask_files)
            row = QHBoxLayout()
            row.addStretch(1)
            row.addWidget(folder)
            row.addWidget(files)
            row.addStretch(1)
            layout.addLayout(row)
        layout.addStretch(2)
        return page

    def _connect(self) -> None:
        self.collections.collection_selected.connect(self._on_collection_selected)
        self.collections.customContextMenuRequested.connect(self._on_collection_menu)
        self.new_button.clicked.connect(lambda: self.name_view.ask())
        self.name_view.accepted.connect(self.create_requested)
        self.add_files_button.clicked.connect(self.ask_files)
        self.add_folder_button.clicked.connect(self.ask_folder)
        self.remove_button.clicked.connect(self.remove_selected)
        self.reindex_button.clicked.connect(lambda: self._emit_for_current(self.reindex_requested))
        self.retry_button.clicked.connect(
            lambda: self._emit_for_current(self.retry_failed_requested))
        self.summarize_button.clicked.connect(
            lambda: self._emit_for_current(self.summarize_requested))
        self.auto_summaries.toggled.connect(self.auto_summaries_toggled)
        self.confirm.confirmed.connect(self.remove_collection_requested)
        self.progress.cancel_requested.connect(self.cancel)
        self.table.selectionModel().selectionChanged.connect(self._update_actions)
        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        escape.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        escape.activated.connect(self._on_escape)
        remove = QAction("Remove", self.table,
                         shortcut=QKeySequence(QKeySequence.StandardKey.Delete))
        remove.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        remove.triggered.connect(self.remove_selected)
        self.table.addAction(remove)

    # -- what the controller calls ----------------------------------------------------------
    def set_collections(self, collections: Sequence[CollectionInfo], current: str | None) -> None:
        self._infos = {c.name: c for c in collections}
        self.collections.set_collections(collections, current)
        if current not in self._infos:
            self.table.set_documents([])
        self._update_actions()

    def set_documents(self, documents: Sequence[DocumentInfo]) -> None:
        self.table.set_documents(documents)
        self._update_actions()

    def set_active_document(self, path: str | None) -> None:
        self.table.table_model.set_active(path)

    def set_summaries(self, summaries: dict[str, str]) -> None:
        """The selected collection's summaries, path -> text (shown in the table)."""
        self.table.table_model.set_summaries(summaries)

    def add_summary(self, path: str, summary: str) -> None:
        self.table.table_model.add_summary(path, summary)

    def set_auto_summaries(self, enabled: bool) -> None:
        """Show the saved choice without announcing it as a change."""
        self.auto_summaries.blockSignals(True)
        self.auto_summaries.setChecked(enabled)
        self.auto_summaries.blockSignals(False)

    def current_collection(self) -> str | None:
        return self.collections.current_name()

    # -- intents ----------------------------------------------------------------------------
    def ask_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add files", "", FILE_FILTER)
        if paths:
            self.add_paths(paths)

    def ask_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Add a folder")
        if path:
            self.add_paths([path])

    def add_paths(self, paths: Sequence[str]) -> None:
        """Add to the selected collection, or ask for a new collection's name first."""
        paths = [p for p in paths if p]
        if not paths:
            return
        current = self.current_collection()
        if current is not None:
            self.add_paths_requested.emit(current, paths)
        else:
            self.name_view.ask(paths, suggested_name(paths))

    def handle_drop(self, mime: QMimeData) -> bool:
        """Add the local files and folders in `mime`; False if it holds none."""
        paths = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
        self.add_paths(paths)
        return bool(paths)

    def remove_selected(self) -> None:
        """Remove the selected documents, or (none selected) the collection after asking."""
        current = self.current_collection()
        if current is None:
            return
        paths = self.table.selected_paths()
        if paths:
            self.remove_documents_requested.emit(current, paths)
        else:
            self.ask_remove_collection(current)

    def ask_remove_collection(self, name: str) -> None:
        self.confirm.ask(name, f"Remove the collection “{name}” and its index? The files "
                               "stay where they are on disk.")

    def cancel(self) -> None:
        if self.progress.running:
            self.progress.cancelling()
            self.cancel_requested.emit()

    # -- drag and drop ----------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802 (Qt override)
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        if self.handle_drop(event.mimeData()):
            event.acceptProposedAction()

    # -- internals --------------------------------------------------------------------------
    def _on_collection_selected(self, name: str) -> None:
        self.confirm.hide()
        self.table.set_documents([])  # the old collection's rows must not linger
        self.set_summaries({})
        self._update_actions()
        self.collection_selected.emit(name)

    def _on_collection_menu(self, pos: QPoint) -> None:
        item = self.collections.itemAt(pos)
        if item is None:
            return
        self.collections.setCurrentItem(item)
        name = str(item.data(Qt.ItemDataRole.UserRole))
        menu = QMenu(self)
        menu.addAction("Re-index", lambda: self.reindex_requested.emit(name))
        menu.addAction("Summarize", lambda: self.summarize_requested.emit(name))
        menu.addAction("Remove collection…", lambda: self.ask_remove_collection(name))
        menu.popup(self.collections.viewport().mapToGlobal(pos))

    def _on_escape(self) -> None:
        if self.progress.running:
            self.cancel()
        else:
            self.name_view.hide()
            self.confirm.hide()

    def _emit_for_current(self, signal: SignalInstance) -> None:
        current = self.current_collection()
        if current is not None:
            signal.emit(current)

    def _update_actions(self) -> None:
        current = self.current_collection()
        info = self._infos.get(current) if current is not None else None
        self.toolbar.setVisible(bool(self._infos))
        self.title.setText(current or "")
        for button in (self.remove_button, self.reindex_button):
            button.setEnabled(info is not None)
        self.summarize_button.setEnabled(info is not None and info.indexed > 0)
        self.retry_button.setEnabled(info is not None and info.failed > 0)
        selected = bool(self.table.selected_paths())
        self.remove_button.setToolTip(
            "Remove the selected documents from the collection (the files stay on disk)"
            if selected else "Remove this collection (the files stay on disk)")
        if not self._infos:
            self.stack.setCurrentIndex(_WELCOME)
        elif info is not None and info.documents == 0 and not self.table.paths():
            self.stack.setCurrentIndex(_EMPTY)
        else:
            self.stack.setCurrentIndex(_TABLE)
