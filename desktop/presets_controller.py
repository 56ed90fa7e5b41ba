"""The preset library: loads presets through the store worker, saves edits, applies one."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject

from core.api import ChatStore, ChatSummary
from core.prompts.presets import Preset
from desktop.chat_controller import ChatController
from desktop.store_worker import StoreClient
from ui.presets_dialog import PresetsDialog


class PresetsController(QObject):
    def __init__(self, store: StoreClient, dialog: PresetsDialog, chats: ChatController,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self.dialog = dialog
        self._chats = chats
        dialog.save_requested.connect(self.save)
        dialog.delete_requested.connect(self.delete)
        dialog.apply_requested.connect(self.apply)

    def open(self) -> None:
        """Show the dialog with the library as it is in the database."""
        self.dialog.set_can_apply(self._chats.current_chat_id is not None
                                  and not self._chats.generating)
        self.refresh()
        self.dialog.show()
        self.dialog.raise_()

    def refresh(self, select: str | None = None) -> None:
        def job(s: ChatStore) -> list[Preset]:
            s.presets.seed()
            return s.presets.list()

        self._store.call(job, lambda presets: self.dialog.set_presets(presets, select),
                         self._on_error)

    def save(self, preset: Preset, old_name: str) -> None:
        self._store.call(lambda s: s.presets.save(preset, old_name or None),
                         lambda _: self._on_saved(preset.name), self._on_error)

    def _on_saved(self, name: str) -> None:
        self.dialog.show_message(f"Saved “{name}”.")
        self.refresh(select=name)

    def delete(self, name: str) -> None:
        self._store.call(lambda s: s.presets.delete(name), lambda _: self._on_deleted(name),
                         self._on_error)

    def _on_deleted(self, name: str) -> None:
        self.dialog.show_message(f"Deleted “{name}”.")
        self.refresh()

    def apply(self, preset: Preset, values: dict[str, str], new_chat: bool) -> None:
        from core.chat import apply_preset, new_chat_from_preset

        chat_id = self._chats.current_chat_id
        if not new_chat and (chat_id is None or self._chats.generating):
            self.dialog.show_message("Wait for the reply to finish, then apply the preset.",
                                     error=True)
            return
        job: Callable[[ChatStore], ChatSummary]
        if new_chat:
            job = lambda s: new_chat_from_preset(s, preset, values)  # noqa: E731
        else:
            assert chat_id is not None
            job = lambda s: apply_preset(s, chat_id, preset, values)  # noqa: E731
        self._store.call(job, lambda chat: self._on_applied(chat, preset.name, new_chat),
                         self._on_error)

    def _on_applied(self, chat: ChatSummary, name: str, new_chat: bool) -> None:
        self.dialog.show_message(f"“{name}” applied to “{chat.title}”.")
        self._chats.show_chat(chat.id, new=new_chat)

    def _on_error(self, message: str) -> None:
        self.dialog.show_message(message, error=True)
