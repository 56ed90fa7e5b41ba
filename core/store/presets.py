"""Presets in the database: the starter set is copied in once, then they are the user's."""

from __future__ import annotations

import json
import time
from pathlib import Path

import apsw

from core.errors import StoreError
from core.prompts.presets import Preset, load_presets, starter_file
from core.store.db import explain, write, write_transaction

_SEEDED_KEY = "presets_seeded"


class PresetStore:
    """Presets on a connection the caller owns (ChatStore.presets)."""

    def __init__(self, conn: apsw.Connection, path: Path) -> None:
        self._conn = conn
        self._path = path

    def seed(self, source: Path | None = None) -> int:
        """Copy the starter presets in, once per database (a deleted starter stays deleted).
        Returns how many were added."""
        if self._conn.execute("SELECT 1 FROM settings WHERE key = ?",
                              (_SEEDED_KEY,)).fetchone():
            return 0
        presets = load_presets(source or starter_file())
        try:
            with write_transaction(self._conn):
                for preset in presets:
                    self._conn.execute(
                        "INSERT OR IGNORE INTO presets(name, kind, body, builtin, updated_at) "
                        "VALUES (?,?,?,1,?)", (preset.name, preset.kind, _body(preset),
                                               time.time()))
                self._conn.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)",
                                   (_SEEDED_KEY, "true"))
        except apsw.Error as exc:
            raise explain(exc, self._path) from exc
        return len(presets)

    def list(self) -> list[Preset]:
        """Every preset, by kind then name."""
        rows = self._conn.execute(
            "SELECT body FROM presets ORDER BY CASE kind WHEN 'persona' THEN 0 "
            "WHEN 'few-shot' THEN 1 ELSE 2 END, name COLLATE NOCASE")
        return [Preset.from_json(json.loads(body)) for (body,) in rows]

    def get(self, name: str) -> Preset:
        row = self._conn.execute("SELECT body FROM presets WHERE name = ?", (name,)).fetchone()
        if row is None:
            names = ", ".join(p.name for p in self.list()) or "none yet"
            raise StoreError(f"There is no preset called “{name}” (presets: {names}).")
        return Preset.from_json(json.loads(row[0]))

    def save(self, preset: Preset, replacing: str | None = None) -> None:
        """Add or update `preset` (matched by name, or by `replacing` when it is renamed)."""
        old = replacing or preset.name
        try:
            with write_transaction(self._conn):
                if old != preset.name and self._conn.execute(
                        "SELECT 1 FROM presets WHERE name = ?", (preset.name,)).fetchone():
                    raise StoreError(f"A preset called “{preset.name}” exists already: "
                                     "choose another name.")
                self._conn.execute("DELETE FROM presets WHERE name = ?", (old,))
                self._conn.execute(
                    "INSERT INTO presets(name, kind, body, updated_at) VALUES (?,?,?,?)",
                    (preset.name, preset.kind, _body(preset), time.time()))
        except apsw.Error as exc:
            raise explain(exc, self._path) from exc

    def delete(self, name: str) -> None:
        """Delete a preset; a missing one is not an error."""
        try:
            write(self._conn, "DELETE FROM presets WHERE name = ?", (name,))
        except apsw.Error as exc:
            raise explain(exc, self._path) from exc


def _body(preset: Preset) -> str:
    return json.dumps(preset.to_json(), ensure_ascii=False)
