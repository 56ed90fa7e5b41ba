"""Small persistent settings as JSON values in the database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import apsw

from core.store.db import explain, write


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
