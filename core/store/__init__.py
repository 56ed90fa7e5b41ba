"""The SQLite store: chats, messages and settings (apsw, WAL, migrations)."""

from core.store.chats import ChatStore, ChatSummary, ReplyWriter, StoredMessage
from core.store.db import open_database
from core.store.settings import SettingsStore

__all__ = ["ChatStore", "ChatSummary", "ReplyWriter", "SettingsStore", "StoredMessage",
           "open_database"]
