"""Chats and messages. Every write commits at once (autocommit), so nothing waits in memory."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import apsw

from core.errors import StoreError
from core.store.comparisons import ComparisonStore
from core.store.db import explain, open_database, write, write_transaction
from core.store.presets import PresetStore
from core.store.settings import SettingsStore
from core.tools.types import ChatTools

ROLES = ("system", "user", "assistant")
STATUSES = ("complete", "streaming", "interrupted", "failed")
FINAL_STATUSES = ("complete", "interrupted", "failed")

_CHAT_COLUMNS = ("id, title, system_prompt, model_path, created_at, updated_at, collections, "
                 "active_leaf_id")
_MESSAGE_COLUMNS = ("id, chat_id, role, content, status, created_at, stats, grounding, parent_id, "
                    "agent_trace")

ACTIVE_LEAF = -1  # add_message's default parent: the end of the branch on screen


@dataclass(frozen=True)
class ChatSummary:
    id: int
    title: str
    system_prompt: str
    model_path: str | None
    created_at: float
    updated_at: float
    collections: tuple[str, ...] = ()  # document collections the chat answers from
    active_leaf_id: int | None = None  # the end of the branch the conversation follows


@dataclass(frozen=True)
class StoredMessage:
    id: int
    chat_id: int
    role: str
    content: str
    status: str
    created_at: float
    stats: dict[str, Any] | None
    grounding: dict[str, Any] | None = None  # core.rag.grounding.Grounding as JSON
    parent_id: int | None = None  # the message this one answers or follows (None: first)
    # This message and its alternatives (same parent), oldest first; filled in by messages().
    # Not compared: it describes the tree around the row, not the row.
    siblings: tuple[int, ...] = field(default=(), compare=False)
    agent_trace: dict[str, Any] | None = None  # core.tools.types.AgentTrace as JSON

    @property
    def branch_position(self) -> tuple[int, int]:
        """(1-based index among its alternatives, how many there are)."""
        if self.id not in self.siblings:
            return 1, 1
        return self.siblings.index(self.id) + 1, len(self.siblings)


def _message(row: tuple[Any, ...]) -> StoredMessage:
    message_id, chat_id, role, content, status, created_at, stats, grounding, parent, trace = row
    return StoredMessage(message_id, chat_id, role, content, status, created_at, _json(stats),
                         _json(grounding), parent, agent_trace=_json(trace))


def _chat(row: tuple[Any, ...]) -> ChatSummary:
    chat_id, title, system_prompt, model_path, created_at, updated_at, collections, leaf = row
    try:
        names = json.loads(collections)
    except ValueError:
        names = []
    valid = tuple(n for n in names if isinstance(n, str)) if isinstance(names, list) else ()
    return ChatSummary(chat_id, title, system_prompt, model_path, created_at, updated_at,
                       valid, leaf)


def _json(text: str | None) -> dict[str, Any] | None:
    try:
        value = json.loads(text) if text else None
    except ValueError:  # damaged by hand or by a bug: the message itself is still worth showing
        return None
    return value if isinstance(value, dict) else None


def _fold(*values: Any) -> Any:
    value = values[0]
    return value.casefold() if isinstance(value, str) else value


def _check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise StoreError(f"{value!r} is not a valid {what}; use one of {', '.join(allowed)}.")


def _missing_chat(chat_id: int) -> StoreError:
    return StoreError(f"Chat {chat_id} does not exist (it may have been deleted).")


class ChatStore:
    """Chats and their messages in one SQLite file.

    One connection, owned by one thread; other threads (or processes) open their own ChatStore
    on the same file, and WAL lets them read while this one writes.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = open_database(path)
        self.settings = SettingsStore(self._conn)
        self.presets = PresetStore(self._conn, path)
        self.comparisons = ComparisonStore(self._conn, path)
        # SQLite's LIKE and lower() fold ASCII only; search should find "Café" from "CAFÉ".
        self._conn.create_scalar_function("fold", _fold, 1, deterministic=True)
        try:
            # A reply still 'streaming' at open time belonged to a process that died mid-reply.
            self._write("UPDATE messages SET status = 'interrupted' WHERE status = 'streaming'")
        except StoreError:
            self._conn.close()
            raise

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ChatStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _write(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Run one write statement; return how many rows it changed."""
        try:
            return write(self._conn, sql, params)
        except apsw.Error as exc:
            raise explain(exc, self.path) from exc

    # -- chats ------------------------------------------------------------------------------
    def create_chat(self, title: str = "New chat", system_prompt: str = "") -> ChatSummary:
        now = time.time()
        self._write(
            "INSERT INTO chats(title, system_prompt, created_at, updated_at) VALUES (?,?,?,?)",
            (_title(title), system_prompt, now, now),
        )
        return self.get_chat(self._conn.last_insert_rowid())

    def list_chats(self, search: str = "") -> list[ChatSummary]:
        """Chats with the latest message first.

        `search` keeps the chats whose title or any message contains it, ignoring case; it is
        matched literally (no wildcards).
        """
        needle = search.strip().casefold()
        if not needle:
            rows = self._conn.execute(
                f"SELECT {_CHAT_COLUMNS} FROM chats ORDER BY updated_at DESC, id DESC"
            )
        else:
            rows = self._conn.execute(
                f"SELECT {_CHAT_COLUMNS} FROM chats c WHERE instr(fold(c.title), ?1) "
                "OR EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id "
                "AND instr(fold(m.content), ?1)) ORDER BY updated_at DESC, id DESC",
                (needle,),
            )
        return [_chat(row) for row in rows]

    def get_chat(self, chat_id: int) -> ChatSummary:
        row = self._conn.execute(
            f"SELECT {_CHAT_COLUMNS} FROM chats WHERE id = ?", (chat_id,)
        ).fetchone()
        if row is None:
            raise _missing_chat(chat_id)
        return _chat(row)

    def _set_chat_column(self, chat_id: int, column: str, value: Any) -> None:
        # updated_at is left alone: the list is ordered by conversation, and renaming an old
        # chat should not move it away from where the user is looking.
        if not self._write(f"UPDATE chats SET {column} = ? WHERE id = ?", (value, chat_id)):
            raise _missing_chat(chat_id)

    def rename_chat(self, chat_id: int, title: str) -> None:
        self._set_chat_column(chat_id, "title", _title(title))

    def set_system_prompt(self, chat_id: int, text: str) -> None:
        self._set_chat_column(chat_id, "system_prompt", text)

    def set_chat_model(self, chat_id: int, model_path: str | None) -> None:
        self._set_chat_column(chat_id, "model_path", model_path)

    def set_chat_collections(self, chat_id: int, names: list[str] | tuple[str, ...]) -> None:
        """The document collections the chat's answers are grounded in (empty: none)."""
        self._set_chat_column(chat_id, "collections",
                              json.dumps(list(dict.fromkeys(names)), ensure_ascii=False))

    def set_message_grounding(self, message_id: int, grounding: dict[str, Any]) -> None:
        if not self._write("UPDATE messages SET grounding = ? WHERE id = ?",
                           (json.dumps(grounding, ensure_ascii=False), message_id)):
            raise StoreError(f"Message {message_id} does not exist (its chat may be deleted).")

    def set_message_agent_trace(self, message_id: int, trace: dict[str, Any]) -> None:
        """The agent trace of a reply made with tools (AgentTrace.to_json())."""
        if not self._write("UPDATE messages SET agent_trace = ? WHERE id = ?",
                           (json.dumps(trace, ensure_ascii=False), message_id)):
            raise StoreError(f"Message {message_id} does not exist (its chat may be deleted).")

    def set_chat_tools(self, chat_id: int, tools: ChatTools) -> None:
        """The chat's tool settings: the tools turned on, the tools always allowed, the
        folders the file tool may read."""
        self._set_chat_column(chat_id, "tools",
                              json.dumps(dataclasses.asdict(tools), ensure_ascii=False))

    def chat_tools(self, chat_id: int) -> ChatTools:
        """The chat's tool settings; a damaged value reads as no tools (nothing is run that
        the user did not turn on)."""
        row = self._conn.execute("SELECT tools FROM chats WHERE id = ?", (chat_id,)).fetchone()
        if row is None:
            raise _missing_chat(chat_id)
        return _chat_tools(row[0])

    def delete_chat(self, chat_id: int) -> None:
        """Delete the chat and its messages. Deleting a missing chat does nothing."""
        self._write("DELETE FROM chats WHERE id = ?", (chat_id,))

    # -- messages ---------------------------------------------------------------------------
    def add_message(
        self, chat_id: int, role: str, content: str, status: str = "complete",
        parent_id: int | None = ACTIVE_LEAF,
    ) -> StoredMessage:
        """Add a message under `parent_id` (by default the end of the branch on screen; None
        starts a new first message) and make it the chat's active branch end."""
        _check(role, ROLES, "message role")
        _check(status, STATUSES, "message status")
        now = time.time()
        try:
            # The message, the branch end and the activity time go together.
            with write_transaction(self._conn):
                parent = self._parent_for(chat_id, parent_id)
                self._conn.execute(
                    "INSERT INTO messages(chat_id, role, content, status, created_at, parent_id) "
                    "VALUES (?,?,?,?,?,?)",
                    (chat_id, role, content, status, now, parent),
                )
                message_id = self._conn.last_insert_rowid()
                self._conn.execute("UPDATE chats SET updated_at = ?, active_leaf_id = ? "
                                   "WHERE id = ?", (now, message_id, chat_id))
                if parent is not None:
                    self._conn.execute("UPDATE messages SET chosen_child_id = ? WHERE id = ?",
                                       (message_id, parent))
        except apsw.ConstraintError as exc:  # the only constraint left unchecked is the chat
            raise _missing_chat(chat_id) from exc
        except apsw.Error as exc:
            raise explain(exc, self.path) from exc
        return self.get_message(message_id)

    def _parent_for(self, chat_id: int, parent_id: int | None) -> int | None:
        if parent_id == ACTIVE_LEAF:
            path = self._path_ids(chat_id)
            return path[-1] if path else None
        if parent_id is not None:
            row = self._conn.execute("SELECT chat_id FROM messages WHERE id = ?",
                                     (parent_id,)).fetchone()
            if row is None or row[0] != chat_id:
                raise StoreError(f"Message {parent_id} is not in chat {chat_id}: a reply can "
                                 "only follow a message of its own chat.")
        return parent_id

    def _leaf(self, chat_id: int) -> int | None:
        row = self._conn.execute(
            "SELECT c.active_leaf_id, m.id FROM chats c LEFT JOIN messages m "
            "ON m.id = c.active_leaf_id AND m.chat_id = c.id WHERE c.id = ?", (chat_id,)
        ).fetchone()
        if row is not None and row[1] is not None:
            return int(row[1])
        # No branch end recorded (or it was deleted): follow the newest message.
        newest = self._conn.execute("SELECT max(id) FROM messages WHERE chat_id = ?",
                                    (chat_id,)).fetchone()
        return newest[0] if newest else None

    def _path_ids(self, chat_id: int) -> list[int]:
        """Ids from the first message to the active branch end."""
        leaf = self._leaf(chat_id)
        if leaf is None:
            return []
        rows = self._conn.execute(
            "WITH RECURSIVE up(id, parent_id) AS ("
            " SELECT id, parent_id FROM messages WHERE id = ?"
            " UNION ALL SELECT m.id, m.parent_id FROM messages m JOIN up ON m.id = up.parent_id)"
            " SELECT id FROM up", (leaf,)).fetchall()
        return [r[0] for r in reversed(rows)]

    def messages(self, chat_id: int) -> list[StoredMessage]:
        """The conversation: the messages from the first to the active branch end, each with
        the ids of its alternatives (regenerated replies, edited messages)."""
        path = self._path_ids(chat_id)
        if not path:
            return []
        children: dict[int | None, list[int]] = {}
        for message_id, parent in self._conn.execute(
                "SELECT id, parent_id FROM messages WHERE chat_id = ? ORDER BY id", (chat_id,)):
            children.setdefault(parent, []).append(message_id)
        marks = ",".join("?" * len(path))
        rows = {row[0]: _message(row) for row in self._conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id IN ({marks})", tuple(path))}
        return [dataclasses.replace(rows[i], siblings=tuple(children.get(rows[i].parent_id, [i])))
                for i in path]

    def all_messages(self, chat_id: int) -> list[StoredMessage]:
        """Every message of the chat, every branch, in the order they were written."""
        rows = self._conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE chat_id = ? ORDER BY id", (chat_id,)
        )
        return [_message(row) for row in rows]

    def get_message(self, message_id: int) -> StoredMessage:
        row = self._conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)
        ).fetchone()
        if row is None:
            raise StoreError(f"Message {message_id} does not exist (its chat may be deleted).")
        return _message(row)

    def select_branch(self, message_id: int) -> None:
        """Show the branch through `message_id`: below it, each time the alternative shown
        last (or else the newest one)."""
        message = self.get_message(message_id)
        # A child always has a higher id than its parent: the branch end is the highest id.
        row: tuple[Any, ...] = self._conn.execute(
            "WITH RECURSIVE down(id) AS (SELECT ?"
            " UNION ALL SELECT coalesce("
            "  (SELECT c.id FROM messages p JOIN messages c ON c.id = p.chosen_child_id"
            "   AND c.parent_id = p.id WHERE p.id = down.id),"
            "  (SELECT max(m.id) FROM messages m WHERE m.parent_id = down.id))"
            " FROM down WHERE down.id IS NOT NULL) SELECT max(id) FROM down", (message_id,)
        ).fetchall()[0]
        leaf = row[0]
        self._set_chat_column(message.chat_id, "active_leaf_id", leaf)

    def switch_branch(self, message_id: int, step: int) -> int:
        """Move to the alternative `step` places from `message_id` (-1: the previous one) and
        show its branch; returns the id now shown. Steps past either end stop there."""
        message = self.get_message(message_id)
        siblings = [r[0] for r in self._conn.execute(
            "SELECT id FROM messages WHERE chat_id = ? AND parent_id IS ? ORDER BY id",
            (message.chat_id, message.parent_id))]
        index = min(max(siblings.index(message_id) + step, 0), len(siblings) - 1)
        if message.parent_id is not None:
            self._write("UPDATE messages SET chosen_child_id = ? WHERE id = ?",
                        (siblings[index], message.parent_id))
        self.select_branch(siblings[index])
        return siblings[index]

    def update_message(
        self, message_id: int, content: str, status: str, stats: dict[str, Any] | None = None
    ) -> None:
        _check(status, STATUSES, "message status")
        encoded = json.dumps(stats, ensure_ascii=False) if stats is not None else None
        changed = self._write(
            "UPDATE messages SET content = ?, status = ?, stats = ? WHERE id = ?",
            (content, status, encoded, message_id),
        )
        if not changed:
            raise StoreError(f"Message {message_id} does not exist (its chat may be deleted).")

    def delete_messages_from(self, message_id: int) -> None:
        """Delete this message and everything that follows it on any branch (a message that
        was taken back). If the branch on screen went with it, the parent becomes its end."""
        row = self._conn.execute("SELECT chat_id, parent_id FROM messages WHERE id = ?",
                                 (message_id,)).fetchone()
        if row is None:
            return
        chat_id, parent = row
        try:
            with write_transaction(self._conn):
                self._conn.execute(
                    "WITH RECURSIVE sub(id) AS (SELECT ?"
                    " UNION ALL SELECT m.id FROM messages m JOIN sub ON m.parent_id = sub.id)"
                    " DELETE FROM messages WHERE id IN (SELECT id FROM sub)", (message_id,))
                self._conn.execute(
                    "UPDATE chats SET active_leaf_id = ? WHERE id = ? AND active_leaf_id NOT IN "
                    "(SELECT id FROM messages WHERE chat_id = ?)", (parent, chat_id, chat_id))
        except apsw.Error as exc:
            raise explain(exc, self.path) from exc

    def restore_chat(self, title: str, system_prompt: str, model_path: str | None,
                     collections: list[str], created_at: float, updated_at: float,
                     messages: list[dict[str, Any]], active_ref: int | None) -> ChatSummary:
        """Add a whole chat at once (an import): `messages` carry a local "ref" and
        "parent_ref", parents first; everything goes in together or nothing does."""
        try:
            with write_transaction(self._conn):
                self._conn.execute(
                    "INSERT INTO chats(title, system_prompt, model_path, collections, "
                    "created_at, updated_at) VALUES (?,?,?,?,?,?)",
                    (_title(title), system_prompt, model_path,
                     json.dumps(collections, ensure_ascii=False), created_at, updated_at))
                chat_id = self._conn.last_insert_rowid()
                ids: dict[int, int] = {}
                for m in messages:
                    _check(m["role"], ROLES, "message role")
                    _check(m["status"], STATUSES, "message status")
                    self._conn.execute(
                        "INSERT INTO messages(chat_id, role, content, status, created_at, stats,"
                        " grounding, parent_id, agent_trace) VALUES (?,?,?,?,?,?,?,?,?)",
                        (chat_id, m["role"], m["content"], m["status"], float(m["created_at"]),
                         _encoded(m.get("stats")), _encoded(m.get("grounding")),
                         ids.get(m["parent_ref"]) if m.get("parent_ref") is not None else None,
                         _encoded(m.get("agent_trace"))))
                    ids[m["ref"]] = self._conn.last_insert_rowid()
                self._conn.execute("UPDATE chats SET active_leaf_id = ? WHERE id = ?",
                                   (ids.get(active_ref) if active_ref is not None else None,
                                    chat_id))
        except apsw.Error as exc:
            raise explain(exc, self.path) from exc
        return self.get_chat(chat_id)

    def start_reply(
        self,
        chat_id: int,
        commit_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        parent_id: int | None = ACTIVE_LEAF,
    ) -> ReplyWriter:
        """Add an empty assistant message marked 'streaming' under `parent_id` (by default the
        branch end) and return its writer."""
        message = self.add_message(chat_id, "assistant", "", status="streaming",
                                   parent_id=parent_id)
        return ReplyWriter(self, message.id, commit_interval_s, clock)


MAX_TOOL_STEPS = 50  # a stored step limit beyond this is damage, not a choice


def _chat_tools(text: str | None) -> ChatTools:
    value = _json(text) or {}

    def names(key: str) -> list[str]:
        items = value.get(key)
        return [str(i) for i in items if isinstance(i, str)] if isinstance(items, list) else []

    defaults = ChatTools()
    choice = value.get("tool_choice")
    steps = value.get("max_steps")
    return ChatTools(builtins=names("builtins"), mcp_servers=names("mcp_servers"),
                     always_allowed=names("always_allowed"),
                     allowed_folders=names("allowed_folders"),
                     tool_choice=choice if isinstance(choice, str) and choice.strip()
                     else defaults.tool_choice,
                     max_steps=steps if isinstance(steps, int) and 1 <= steps <= MAX_TOOL_STEPS
                     else defaults.max_steps)


def _encoded(value: dict[str, Any] | None) -> str | None:
    return json.dumps(value, ensure_ascii=False) if value is not None else None


def _title(title: str) -> str:
    if not title.strip():
        raise StoreError("A chat needs a title: it cannot be empty.")
    return title.strip()


class ReplyWriter:
    """Commits a streaming reply as it grows, so a crash loses at most the last interval of text.

    Between commits the text lives only here; `finish` writes all of it with the final status.
    """

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
        """All the text appended so far."""
        if len(self._pieces) > 1:  # join once, not on every read of a long reply
            self._pieces = ["".join(self._pieces)]
        return self._pieces[0] if self._pieces else ""

    @property
    def is_open(self) -> bool:
        return self._open

    def append(self, piece: str) -> None:
        """Add text; commit it if the interval has passed since the last commit."""
        self._ensure_open()
        self._pieces.append(piece)
        now = self._clock()
        if now - self._last_write >= self._interval:
            self._store.update_message(self.message_id, self.text, "streaming")
            self._last_write = now

    def finish(self, status: str = "complete", stats: dict[str, Any] | None = None) -> None:
        """Write the whole text with its final status. The writer cannot be used after this."""
        self._ensure_open()
        _check(status, FINAL_STATUSES, "final status for a reply")
        self._open = False
        self._store.update_message(self.message_id, self.text, status, stats)

    def _ensure_open(self) -> None:
        if not self._open:
            raise StoreError(f"The reply {self.message_id} is already finished.")
