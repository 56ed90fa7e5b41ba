"""Small persistent settings as JSON values in the database."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import apsw

from core.store.db import explain, write, write_transaction

T = TypeVar("T")
_BUSY_TIMEOUT_MS = 2000


class SettingsStore:
    """Key to JSON value, on a connection someone else owns (and closes)."""

    def __init__(self, conn: apsw.Connection) -> None:
        self._conn = conn

    def get(self, key: str, default: Any = None) -> Any:
        """The stored value, or `default` when the key is unset or its value is unreadable."""
        row = self._conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        if row is None:
            return default
        try:
            return json.loads(row[0])
        except ValueError:  # a hand-edited or damaged value: behave as if unset
            return default

    def set(self, key: str, value: Any) -> None:
        """Store `value` (anything `json.dumps` accepts) under `key`, replacing the old one."""
        encoded = json.dumps(value, ensure_ascii=False)
        try:
            write(
                self._conn,
                "INSERT INTO settings(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, encoded),
            )
        except apsw.Error as exc:
            raise explain(exc, Path(self._conn.filename)) from exc

    def set_many(self, values: Mapping[str, Any], remove: Iterable[str] = ()) -> None:
        """Store several values and delete the `remove` keys, all in one transaction (a typed
        section replacing the rows an older version kept, core.settings)."""
        encoded = [(key, json.dumps(value, ensure_ascii=False)) for key, value in values.items()]
        try:
            with write_transaction(self._conn):
                for key, text in encoded:
                    self._conn.execute(
                        "INSERT INTO settings(key, value) VALUES (?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, text))
                for key in remove:
                    self._conn.execute("DELETE FROM settings WHERE key = ?", (key,))
        except apsw.Error as exc:
            raise explain(exc, Path(self._conn.filename)) from exc


def peek_settings(path: Path, read: Callable[[SettingsStore], T], default: T) -> T:
    """`read` on the settings of the database at `path`, through a read-only connection of its
    own: nothing is created, migrated or marked (ChatStore would mark a reply the app is still
    writing as interrupted). `default` when there is no database yet or it cannot be read."""
    if not path.is_file():
        return default
    try:
        conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    except apsw.Error:
        return default
    try:
        conn.setbusytimeout(_BUSY_TIMEOUT_MS)
        return read(SettingsStore(conn))
    except apsw.Error:  # damaged, locked too long, or older than the settings table
        return default
    finally:
        conn.close()
