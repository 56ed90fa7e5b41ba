"""Opening the database: pragmas for durability and numbered migrations by user_version."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import apsw

from core.errors import StoreError

_BUSY_TIMEOUT_MS = 5000


def _migration_1(conn: apsw.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE chats (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            system_prompt TEXT NOT NULL DEFAULT '',
            model_path TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE messages (
            -- AUTOINCREMENT: a regenerated reply must never reuse the id of the one it replaced
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content TEXT NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('complete', 'streaming', 'interrupted', 'failed')),
            stats TEXT,
            created_at REAL NOT NULL
        );
        CREATE INDEX messages_by_chat ON messages(chat_id, id);
        CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        """
    )


MIGRATIONS: list[Callable[[apsw.Connection], None]] = [_migration_1]


def _user_version(conn: apsw.Connection) -> int:
    value = conn.execute("PRAGMA user_version").fetchall()[0][0]
    assert isinstance(value, int)
    return value


def migrate(conn: apsw.Connection, path: Path) -> None:
    """Bring the schema up to date, one migration per transaction."""
    version = _user_version(conn)
    if version > len(MIGRATIONS):
        raise StoreError(
            f"{path} was made by a newer Glassbox (schema {version}; this one knows "
            f"{len(MIGRATIONS)}). Update Glassbox, or set GLASSBOX_HOME to another folder."
        )
    for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
        # A crash mid-migration rolls back to the previous version as a whole.
        with conn:
            migration(conn)
            conn.execute(f"PRAGMA user_version = {number}")


def open_database(path: Path) -> apsw.Connection:
    """Open (or create) the database at `path`, ready to use. Raises StoreError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = apsw.Connection(str(path))
        conn.set_busy_timeout(_BUSY_TIMEOUT_MS)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, path)
    except apsw.NotADBError as exc:
        raise StoreError(
            f"{path} is not a Glassbox database (it may be damaged). Move it aside to start "
            "afresh; nothing has been written to it."
        ) from exc
    except apsw.Error as exc:
        raise StoreError(f"Could not open the database {path}: {exc}") from exc
    return conn
