"""The list of chats: search, new, rename in place, delete after an inline confirmation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.theme import mark_secondary

if TYPE_CHECKING:  # core.store (apsw, every store module) is not needed to paint the window
    from core.api import ChatSummary

_SEARCH_DELAY_MS = 200
_ID_ROLE = Qt.ItemDataRole.UserRole
_TITLE_ROLE = Qt.ItemDataRole.UserRole + 1


class ChatListPanel(QWidget):
    """Shows chat summaries; every change is asked for through a signal, never done here."""

    new_requested = Signal()
    chat_selected = Signal(int)
    rename_requested = Signal(int, str)
    delete_requested = Signal(int)
    search_changed = Signal(str)
    export_requested = Signal(int, str)  # chat id, "md" | "json"
    import_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit(placeholderText="Search chats", clearButtonEnabled=True)
        self.new_button = QPushButton("New chat")
        self.new_button.setToolTip("Start a new chat (Ctrl+N)")
        self.list = QListWidget()
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setUniformItemSizes(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.empty_label = QLabel("No chats match.", alignment=Qt.AlignmentFlag.AlignCenter)
        mark_secondary(self.empty_label)  # quieter, still AA
        self.empty_label.hide()
        self._confirm = _DeleteConfirmation()
        self._confirm.hide()
        self._search_timer = QTimer(self, singleShot=True, interval=_SEARCH_DELAY_MS)
        self._build_layout()
        self._build_actions()
        self._connect()

    def _build_layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.new_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 0, 6)
        layout.addLayout(top)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty_label)
        layout.addWidget(self._confirm)

    def _build_actions(self) -> None:
        self.new_action = QAction("New chat", self, shortcut=QKeySequence("Ctrl+N"))
        self.new_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.rename_action = QAction("Rename", self, shortcut=QKeySequence(Qt.Key.Key_F2))
        self.delete_action = QAction("Delete…", self)
        self.delete_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        # Rename and Delete act on the list only: Del in the composer must not delete a chat.
        for action in (self.rename_action, self.delete_action):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.list.addAction(action)
        self.addAction(self.new_action)
        self.export_markdown_action = QAction("Export as Markdown…", self)
        self.export_json_action = QAction("Export as JSON…", self)
        self.import_action = QAction("Import chat…", self)

    def _connect(self) -> None:
        self.new_button.clicked.connect(self.new_requested)
        self.new_action.triggered.connect(self.new_requested)
        self.rename_action.triggered.connect(self.begin_rename)
        self.delete_action.triggered.connect(self.ask_delete)
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        self._search_timer.timeout.connect(lambda: self.search_changed.emit(self.search.text()))
        self.list.currentItemChanged.connect(self._on_current_changed)
        self.list.itemChanged.connect(self._on_item_edited)
        self.list.customContextMenuRequested.connect(self._on_context_menu)
        self._confirm.confirmed.connect(self._on_delete_confirmed)
        self.export_markdown_action.triggered.connect(lambda: self._export("md"))
        self.export_json_action.triggered.connect(lambda: self._export("json"))
        self.import_action.triggered.connect(self.import_requested)

    # -- what the window calls --------------------------------------------------------------
    def set_chats(self, chats: Sequence[ChatSummary], current_id: int | None) -> None:
        """Replace the list without emitting chat_selected."""
        row_height = self.list.fontMetrics().height() + 12
        self.list.blockSignals(True)
        try:
            self.list.clear()
            for chat in chats:
                item = QListWidgetItem(chat.title)
                item.setSizeHint(QSize(0, row_height))
                item.setData(_ID_ROLE, chat.id)
                item.setData(_TITLE_ROLE, chat.title)
                item.setToolTip(chat.title)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
                self.list.addItem(item)
                if chat.id == current_id:
                    self.list.setCurrentItem(item)
        finally:
            self.list.blockSignals(False)
        self.empty_label.setVisible(not chats and bool(self.search.text().strip()))
        if self._confirm.chat_id is not None and self._item(self._confirm.chat_id) is None:
            self._confirm.hide()

    def select_chat(self, chat_id: int | None) -> None:
        """Mark a chat as current without emitting chat_selected."""
        self.list.blockSignals(True)
        try:
            item = self._item(chat_id) if chat_id is not None else None
            if item is not None:
                self.list.setCurrentItem(item)
            else:
                self.list.setCurrentRow(-1)
        finally:
            self.list.blockSignals(False)

    def current_chat_id(self) -> int | None:
        item = self.list.currentItem()
        return int(item.data(_ID_ROLE)) if item is not None else None

    def chat_ids(self) -> list[int]:
        return [int(self.list.item(i).data(_ID_ROLE)) for i in range(self.list.count())]

    def titles(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    # -- rename and delete ------------------------------------------------------------------
    def begin_rename(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.list.editItem(item)

    def ask_delete(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self._confirm.ask(int(item.data(_ID_ROLE)), str(item.data(_TITLE_ROLE)))

    def confirm_delete(self) -> None:
        """Press the confirmation's Delete button (the keyboard path and tests use this)."""
        self._confirm.confirm()

    @property
    def confirmation_visible(self) -> bool:
        return self._confirm.isVisibleTo(self)

    def _on_delete_confirmed(self, chat_id: int) -> None:
        self.delete_requested.emit(chat_id)

    def _on_item_edited(self, item: QListWidgetItem) -> None:
        old, new = str(item.data(_TITLE_ROLE)), item.text().strip()
        if new and new != old:
            self.rename_requested.emit(int(item.data(_ID_ROLE)), new)
        else:
            self.list.blockSignals(True)
            item.setText(old)
            self.list.blockSignals(False)

    def _on_current_changed(self, current: QListWidgetItem | None, _previous: object) -> None:
        self._confirm.hide()
        if current is not None:
            self.chat_selected.emit(int(current.data(_ID_ROLE)))

    def context_menu(self, with_chat: bool) -> QMenu:
        """The list's right-click menu (import only, where no chat was clicked)."""
        menu = QMenu(self)
        if with_chat:
            menu.addAction(self.rename_action)
            menu.addAction(self.delete_action)
            menu.addSeparator()
            menu.addAction(self.export_markdown_action)
            menu.addAction(self.export_json_action)
        menu.addAction(self.import_action)
        return menu

    def _on_context_menu(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        if item is not None:
            self.list.setCurrentItem(item)
        self.context_menu(item is not None).popup(self.list.viewport().mapToGlobal(pos))

    def _export(self, fmt: str) -> None:
        chat_id = self.current_chat_id()
        if chat_id is not None:
            self.export_requested.emit(chat_id, fmt)

    def _item(self, chat_id: int) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            if self.list.item(i).data(_ID_ROLE) == chat_id:
                return self.list.item(i)
        return None


class _DeleteConfirmation(QFrame):
    """An inline question under the list: a modal box would block the window (and tests)."""

    confirmed = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.chat_id: int | None = None
        self.label = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.delete_button = QPushButton("Delete")
        cancel = QPushButton("Cancel")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        buttons.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self.label)
        layout.addLayout(buttons)
        self.delete_button.clicked.connect(self.confirm)
        cancel.clicked.connect(self.hide)

    def ask(self, chat_id: int, title: str) -> None:
        self.chat_id = chat_id
        self.label.setText(f"Delete “{title}” and all its messages?")
        self.show()
        self.delete_button.setFocus()

    def confirm(self) -> None:
        if self.chat_id is not None and not self.isHidden():
            chat_id, self.chat_id = self.chat_id, None
            self.hide()
            self.confirmed.emit(chat_id)
