"""Chats and replies: turns the views' intents into store jobs and engine requests.

Every query runs as a store job, every reply on the engine thread; this class only keeps track
of which chat is open and which reply is streaming, and tells the views what to show.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from core.api import ChatStore, ChatSummary, StoredMessage, UIState
from core.engine.types import GenerationStats
from core.settings import read, update
from desktop.engine_worker import EngineHandle
from desktop.store_worker import StoreClient
from ui.chat_list_panel import ChatListPanel
from ui.chat_view import ChatView
from ui.composer_view import ComposerView
from ui.status_view import StatusView
from ui.system_prompt_view import SystemPromptView


@dataclass(frozen=True)
class ChatViews:
    chat_list: ChatListPanel
    chat_view: ChatView
    composer: ComposerView
    system_prompt: SystemPromptView
    status: StatusView


@dataclass
class _Reply:
    """The one request the engine is working on."""

    chat_id: int
    pending_text: str | None  # given back to the composer if nothing was sent
    started: bool = False
    reply_id: int | None = None
    text: str = ""
    fork: tuple[int, int] | None = None  # (new user message, the one it edits) for an edit


def _open_chat_job(chat_id: int) -> Callable[[ChatStore], tuple[ChatSummary, list[Any]]]:
    def job(store: ChatStore) -> tuple[ChatSummary, list[Any]]:
        chat = store.get_chat(chat_id)
        update(store.settings, UIState, selected_chat=chat_id)
        return chat, store.messages(chat_id)

    return job


class ChatController(QObject):
    chat_opened = Signal(object, list)  # ChatSummary, list[StoredMessage] now shown

    def __init__(self, store: StoreClient, engine: EngineHandle, views: ChatViews,
                 show_error: Callable[[str], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._engine = engine
        self.views = views
        self._show_error = show_error
        self.current_chat_id: int | None = None
        self._search = ""
        self._reply: _Reply | None = None
        self._connect()

    def _connect(self) -> None:
        v = self.views
        v.chat_list.new_requested.connect(self.new_chat)
        v.chat_list.chat_selected.connect(self.open_chat)
        v.chat_list.rename_requested.connect(self.rename_chat)
        v.chat_list.delete_requested.connect(self.delete_chat)
        v.chat_list.search_changed.connect(self.search)
        v.system_prompt.prompt_edited.connect(self.set_system_prompt)
        v.composer.send_requested.connect(self.send)
        v.composer.edit_resend_requested.connect(self.edit_and_resend)
        v.composer.regenerate_requested.connect(self.regenerate)
        v.composer.stop_requested.connect(self.stop)
        v.composer.edit_message_requested.connect(self.edit_message)
        v.chat_view.branch_requested.connect(self.switch_branch)
        v.chat_view.edit_message_requested.connect(v.composer.begin_edit_of)
        worker = self._engine.worker
        worker.reply_started.connect(self._on_reply_started)
        worker.token.connect(self._on_token)
        worker.reply_finished.connect(self._on_reply_finished)
        worker.reply_failed.connect(self._on_reply_failed)

    @property
    def generating(self) -> bool:
        return self._reply is not None

    # -- chats ------------------------------------------------------------------------------
    def start(self) -> None:
        self.views.composer.setEnabled(False)
        self._store.call(lambda s: (s.list_chats(), read(s.settings, UIState).selected_chat),
                         self._on_startup)

    def _on_startup(self, result: tuple[list[ChatSummary], Any]) -> None:
        chats, selected = result
        ids = [c.id for c in chats]
        if not chats:
            self.new_chat()
            return
        self.views.chat_list.set_chats(chats, None)
        self.open_chat(selected if selected in ids else ids[0])

    def open_chat(self, chat_id: int) -> None:
        self.current_chat_id = chat_id
        self.views.chat_list.select_chat(chat_id)
        self._store.call(_open_chat_job(chat_id), self._on_chat_loaded, self._on_open_failed)

    def _on_chat_loaded(self, result: tuple[ChatSummary, list[StoredMessage]]) -> None:
        chat, messages = result
        if chat.id != self.current_chat_id:
            return  # the user moved on while this was loading
        v = self.views
        v.system_prompt.set_prompt(chat.id, chat.system_prompt)
        v.chat_view.set_messages(self._with_live_reply(chat.id, messages))
        v.composer.setEnabled(True)
        users = [m.content for m in messages if m.role == "user"]
        v.composer.set_last_user_text(users[-1] if users else None)
        stats = next((m.stats for m in reversed(messages) if m.stats), None)
        if stats:
            v.status.set_stats(stats.get("tokens_per_s", 0.0), stats.get("ttft_s", 0.0),
                               stats.get("prompt_tokens", 0) + stats.get("completion_tokens", 0),
                               stats.get("n_ctx", 0))
        elif not self.generating:
            v.status.clear_stats()
        self.chat_opened.emit(chat, messages)

    def _with_live_reply(self, chat_id: int,
                         messages: Sequence[StoredMessage]) -> list[StoredMessage]:
        """The store holds the streaming reply as of its last commit; show what arrived since."""
        reply = self._reply
        if reply is None or reply.chat_id != chat_id or reply.reply_id is None:
            return list(messages)
        return [dataclasses.replace(m, content=reply.text, status="streaming")
                if m.id == reply.reply_id else m for m in messages]

    def _on_open_failed(self, message: str) -> None:
        self._show_error(message)
        self.refresh_list()

    def refresh_list(self) -> None:
        search = self._search
        self._store.call(lambda s: s.list_chats(search), self._on_list)

    def _on_list(self, chats: list[ChatSummary]) -> None:
        self.views.chat_list.set_chats(chats, self.current_chat_id)

    def new_chat(self) -> None:
        self._store.call(lambda s: s.create_chat(), self._on_created)

    def _on_created(self, chat: ChatSummary) -> None:
        if self._search:
            self.views.chat_list.search.clear()  # the new chat must be visible in the list
            self._search = ""
        self.open_chat(chat.id)
        self.refresh_list()
        self.views.composer.editor.setFocus()

    def show_chat(self, chat_id: int, new: bool = False) -> None:
        """Open a chat made or changed elsewhere (a preset, an import) and list it."""
        if new and self._search:
            self.views.chat_list.search.clear()
            self._search = ""
        self.open_chat(chat_id)
        self.refresh_list()

    def export_chat(self, chat_id: int, fmt: str, path: str) -> None:
        """Write the chat as Markdown ("md": the branch on screen) or JSON (every branch)."""
        def job(store: ChatStore) -> None:
            from core.store.export import (
                chat_to_json,
                chat_to_markdown,
                write_json,
                write_text,
            )

            if fmt == "json":
                write_json(Path(path), chat_to_json(store, chat_id))
            else:
                write_text(Path(path), chat_to_markdown(store.get_chat(chat_id),
                                                        store.messages(chat_id)))

        self._store.call(job, lambda _: self.views.status.set_state(f"Exported to {path}"),
                         self._show_error)

    def import_chat(self, path: str) -> None:
        """Add a chat from a JSON export and open it."""
        def job(store: ChatStore) -> ChatSummary:
            from core.store.export import import_chat, read_export

            return import_chat(store, read_export(Path(path), "glassbox-chat"))

        self._store.call(job, lambda chat: self.show_chat(chat.id, new=True), self._show_error)

    def rename_chat(self, chat_id: int, title: str) -> None:
        self._store.call(lambda s: s.rename_chat(chat_id, title), lambda _: self.refresh_list(),
                         self._on_store_failed)

    def delete_chat(self, chat_id: int) -> None:
        if self._reply is not None and self._reply.chat_id == chat_id:
            self._engine.stop()
        def job(store: ChatStore) -> list[ChatSummary]:
            store.delete_chat(chat_id)
            return store.list_chats()

        self._store.call(job, lambda chats: self._on_deleted(chat_id, chats),
                         self._on_store_failed)

    def _on_deleted(self, chat_id: int, remaining: list[ChatSummary]) -> None:
        if chat_id == self.current_chat_id:
            self.current_chat_id = None
            if remaining:
                self.open_chat(remaining[0].id)
            else:
                self.new_chat()
                return
        self.refresh_list()

    def search(self, text: str) -> None:
        self._search = text
        self.refresh_list()

    def set_system_prompt(self, chat_id: int, text: str) -> None:
        self._store.call(lambda s: s.set_system_prompt(chat_id, text), None,
                         self._on_store_failed)

    def _on_store_failed(self, message: str) -> None:
        self._show_error(message)
        self.refresh_list()

    # -- replies ----------------------------------------------------------------------------
    def send(self, text: str) -> None:
        chat_id = self._begin(text)
        if chat_id is None:
            return
        if text.strip():
            self.views.chat_view.add_user_message(text)
        self._engine.send(chat_id, text)

    def edit_and_resend(self, text: str) -> None:
        chat_id = self._begin(text)
        if chat_id is None:
            return
        if text.strip():
            self.views.chat_view.drop_from_last_user(keep_user=False)
            self.views.chat_view.add_user_message(text)
        self._engine.edit_last(chat_id, text)

    def edit_message(self, message_id: int, text: str) -> None:
        """Fork at an earlier message: store the new text beside it, then answer it."""
        chat_id = self.current_chat_id
        if chat_id is None or self._reply is not None:
            return
        if not text.strip():
            self._show_error("The message is empty: type something to send.")
            return

        def fork(store: ChatStore) -> tuple[int, list[StoredMessage]]:
            from core.chat import fork_user

            new = fork_user(store, chat_id, message_id, text)
            return new.id, store.messages(chat_id)

        self.views.composer.clear()
        self._store.call(fork, lambda result: self._answer_fork(chat_id, message_id, text,
                                                                *result),
                         self._on_store_failed)

    def _answer_fork(self, chat_id: int, original_id: int, text: str, new_id: int,
                     messages: list[StoredMessage]) -> None:
        if chat_id != self.current_chat_id or self._begin(text) is None:
            self.open_chat(chat_id)
            return
        assert self._reply is not None
        self._reply.fork = (new_id, original_id)
        self.views.chat_view.set_messages(messages)
        self._engine.regenerate(chat_id)  # answers the new message, the end of its branch

    def switch_branch(self, message_id: int, step: int) -> None:
        """Show the previous (-1) or next (+1) alternative of a message and its branch."""
        chat_id = self.current_chat_id
        if chat_id is None or self._reply is not None:
            return
        self._store.call(lambda s: s.switch_branch(message_id, step),
                         lambda _: self.open_chat(chat_id), self._on_store_failed)

    def regenerate(self) -> None:
        chat_id = self._begin(None)
        if chat_id is None:
            return
        self.views.chat_view.drop_from_last_user(keep_user=True)
        self._engine.regenerate(chat_id)

    def stop(self) -> None:
        if self._reply is not None:
            self._engine.stop()
            self.views.status.set_state("Stopping…")

    def _begin(self, text: str | None) -> int | None:
        chat_id = self.current_chat_id
        if chat_id is None or self._reply is not None:
            return None
        self._reply = _Reply(chat_id, text)
        composer = self.views.composer
        composer.clear()
        composer.set_generating(True)
        self.views.status.set_state("Generating…")
        return chat_id

    def _on_reply_started(self, chat_id: int, reply_id: int) -> None:
        reply = self._reply
        if reply is None or reply.chat_id != chat_id:
            return
        reply.started, reply.reply_id = True, reply_id
        if chat_id == self.current_chat_id:
            self.views.chat_view.begin_reply()
            if reply.pending_text is not None:
                self.views.composer.set_last_user_text(reply.pending_text)
        self.refresh_list()  # the first message titles a new chat

    def _on_token(self, chat_id: int, text: str) -> None:
        reply = self._reply
        if reply is None or reply.chat_id != chat_id:
            return
        reply.text += text
        if chat_id == self.current_chat_id:
            self.views.chat_view.append_reply_text(text)

    def _on_reply_finished(self, chat_id: int, stats: GenerationStats, reason: str) -> None:
        self._end()
        if chat_id == self.current_chat_id:
            self.views.chat_view.finish_reply("interrupted" if reason == "cancelled"
                                              else "complete")
        self.views.status.set_stats(stats.tokens_per_s, stats.ttft_s, stats.context_used,
                                    stats.n_ctx)
        if chat_id == self.current_chat_id:
            self.open_chat(chat_id)  # from the store: the reply's id and its ‹ › alternatives
        if stats.dropped_messages:
            self.views.status.set_state(f"Ready · the {stats.dropped_messages} oldest messages "
                                        "did not fit the context and were left out")
        self.refresh_list()

    def _on_reply_failed(self, chat_id: int, message: str) -> None:
        reply = self._end()
        self._show_error(message)
        if reply is not None and not reply.started and reply.fork is not None:
            self._undo_fork(chat_id, *reply.fork, reply.pending_text or "")
            return
        composer = self.views.composer
        if reply is not None and not reply.started and reply.pending_text and not composer.text():
            composer.set_text(reply.pending_text)  # nothing was sent: keep the user's words
        if chat_id == self.current_chat_id:
            self.open_chat(chat_id)  # show what the store kept
        self.refresh_list()

    def _undo_fork(self, chat_id: int, new_id: int, original_id: int, text: str) -> None:
        """Nothing was generated for an edit: drop the new branch, show the original, and
        give the text back to edit again."""
        def job(store: ChatStore) -> None:
            store.delete_messages_from(new_id)
            store.select_branch(original_id)

        self._store.call(job, lambda _: self.open_chat(chat_id), self._on_store_failed)
        if not self.views.composer.text():
            self.views.composer.begin_edit_of(original_id, text)

    def _end(self) -> _Reply | None:
        reply, self._reply = self._reply, None
        self.views.composer.set_generating(False)
        self.views.status.set_state("Ready")
        return reply
