"""Chats and messages. Every write commits at once (autocommit), so nothing waits in memory."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw

from core.errors import StoreError
from core.store.db import open_database
from core.store.settings import SettingsStore

_CHAT_COLUMNS = "id, title, system_prompt, model_path, created_at, updated_at"
_MESSAGE_COLUMNS = "id, chat_id, role, content, status, created_at, stats"


@dataclass(frozen=True)
class ChatSummary:
    id: int
    title: str
    system_prompt: str
    model_path: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class StoredMessage:
    id: int
    chat_id: int
    role: str
    content: str
    status: str
    created_at: float
    stats: dict[str, Any] | None


def _message(row: tuple[Any, ...]) -> StoredMessage:
    message_id, chat_id, role, content, status, created_at, stats = row
    return StoredMessage(message_id, chat_id, role, content, status, created_at,
                         json.loads(stats) if stats else None)


def _fold(*values: Any) -> Any:
    value = values[0]
    return value.casefold() if isinstance(value, str) else value


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class ChatStore:
    """One connection, owned by one thread. Other threads open their own ChatStore."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = open_database(path)
        self.settings = SettingsStore(self._conn)
        # SQLite's LIKE folds ASCII case only; search should find "Café" from "CAFÉ" too.
        self._conn.create_scalar_function("fold", _fold, 1, deterministic=True)
        # A reply still 'streaming' at open time belonged to a process that died mid-reply.
        self._conn.execute("UPDATE messages SET status = 'interrupted' WHERE status = 'streaming'")

    def close(self) -> None:
        self._conn.close()

    # -- chats ------------------------------------------------------------------------------
    def create_chat(self, title: str = "New chat", system_prompt: str = "") -> ChatSummary:
        now = time.time()
        self._conn.execute(
            "INSERT INTO chats(title, system_prompt, created_at, updated_at) VALUES (?,?,?,?)",
            (title, system_prompt, now, now),
        )
        return self.get_chat(self._conn.last_insert_rowid())

    def list_chats(self, search: str = "") -> list[ChatSummary]:
        """Most recently active first; `search` matches titles and message text."""
        if not search.strip():
            rows = self._conn.execute(
                f"SELECT {_CHAT_COLUMNS} FROM chats ORDER BY updated_at DESC, id DESC"
            )
        else:
            pattern = _like_pattern(search.strip().casefold())
            rows = self._conn.execute(
                f"SELECT {_CHAT_COLUMNS} FROM chats c WHERE fold(c.title) LIKE ?1 ESCAPE '\\' "
                "OR EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id "
                "AND fold(m.content) LIKE ?1 ESCAPE '\\') ORDER BY updated_at DESC, id DESC",
                (pattern,),
            )
        return [ChatSummary(*row) for row in rows]

    def get_chat(self, chat_id: int) -> ChatSummary:
        row = self._conn.execute(
            f"SELECT {_CHAT_COLUMNS} FROM chats WHERE id = ?", (chat_id,)
        ).fetchone()
        if row is None:
            raise StoreError(f"Chat {chat_id} does not exist (it may have been deleted).")
        return ChatSummary(*row)

    def _update_chat(self, chat_id: int, column: str, value: Any) -> None:
        self._conn.execute(
            f"UPDATE chats SET {column} = ?, updated_at = ? WHERE id = ?",
            (value, time.time(), chat_id),
        )
        if self._conn.changes() == 0:
            raise StoreError(f"Chat {chat_id} does not exist (it may have been deleted).")

    def rename_chat(self, chat_id: int, title: str) -> None:
        if not title.strip():
            raise StoreError("A chat needs a title: it cannot be empty.")
        self._update_chat(chat_id, "title", title.strip())

    def set_system_prompt(self, chat_id: int, text: str) -> None:
        self._update_chat(chat_id, "system_prompt", text)

    def set_chat_model(self, chat_id: int, model_path: str | None) -> None:
        self._update_chat(chat_id, "model_path", model_path)

    def delete_chat(self, chat_id: int) -> None:
        self._conn.execute("DELETE FROM chats WHERE id = ?", (chat_id,))

    # -- messages ---------------------------------------------------------------------------
    def add_message(
        self, chat_id: int, role: str, content: str, status: str = "complete"
    ) -> StoredMessage:
        now = time.time()
        try:
            with self._conn:
                self._conn.execute(
                    "INSERT INTO messages(chat_id, role, content, status, created_at) "
                    "VALUES (?,?,?,?,?)",
                    (chat_id, role, content, status, now),
                )
                message_id = self._conn.last_insert_rowid()
                self._conn.execute("UPDATE chats SET updated_at = ? WHERE id = ?", (now, chat_id))
        except apsw.ConstraintError as exc:
            raise StoreError(f"Could not save the message to chat {chat_id}: {exc}") from exc
        return self.get_message(message_id)

    def messages(self, chat_id: int) -> list[StoredMessage]:
        rows = self._conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE chat_id = ? ORDER BY id", (chat_id,)
        )
        return [_message(row) for row in rows]

    def get_message(self, message_id: int) -> StoredMessage:
        row = self._conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)
        ).fetchone()
        if row is None:
            raise StoreError(f"Message {message_id} does not exist.")
        return _message(row)

    def update_message(
        self, message_id: int, content: str, status: str, stats: dict[str, Any] | None = None
    ) -> None:
        self._conn.execute(
            "UPDATE messages SET content = ?, status = ?, stats = ? WHERE id = ?",
            (content, status, json.dumps(stats) if stats is not None else None, message_id),
        )

    def delete_messages_from(self, message_id: int) -> None:
        """Delete this message and every later one in its chat (regenerate, edit-and-resend)."""
        self._conn.execute(
            "DELETE FROM messages WHERE chat_id = (SELECT chat_id FROM messages WHERE id = ?1) "
            "AND id >= ?1",
            (message_id,),
        )

    def start_reply(self, chat_id: int, commit_interval_s: float = 1.0,
                    clock: Callable[[], float] = time.monotonic) -> ReplyWriter:
        message = self.add_message(chat_id, "assistant", "", status="streaming")
        return ReplyWriter(self, message.id, commit_interval_s, clock)


class ReplyWriter:
    """Writes a streaming reply as it grows, so a crash loses at most one interval of text."""

    def __init__(self, store: ChatStore, message_id: int, interval_s: float,
                 clock: Callable[[], float]) -> None:
        self._store = store
        self.message_id = message_id
        self._interval = interval_s
        self._clock = clock
        self._pieces: list[str] = []
        self._last_write = clock()
        self._open = True

    @property
    def text(self) -> str:
        return "".join(self._pieces)

    @property
    def is_open(self) -> bool:
        return self._open

    def append(self, piece: str) -> None:
        if not self._open:
            raise StoreError("This reply is already finished.")
        self._pieces.append(piece)
        now = self._clock()
        if now - self._last_write >= self._interval:
            self._store.update_message(self.message_id, self.text, "streaming")
            self._last_write = now

    def finish(self, status: str = "complete", stats: dict[str, Any] | None = None) -> None:
        if not self._open:
            raise StoreError("This reply is already finished.")
        self._open = False
        self._store.update_message(self.message_id, self.text, status, stats)
