"""Saved comparisons: the prompt, and per variant its settings, output and figures."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import apsw

from core.errors import StoreError
from core.prompts.compare import Variant
from core.store.db import explain, write, write_transaction


@dataclass(frozen=True)
class VariantResult:
    variant: Variant
    output: str = ""
    status: str = "complete"  # as a message's: complete, interrupted, failed
    stats: dict[str, Any] | None = None


@dataclass(frozen=True)
class Comparison:
    id: int
    title: str
    prompt: str
    created_at: float
    results: tuple[VariantResult, ...] = field(default=())


class ComparisonStore:
    """Comparisons on a connection the caller owns (ChatStore.comparisons)."""

    def __init__(self, conn: apsw.Connection, path: Path) -> None:
        self._conn = conn
        self._path = path

    def save(self, prompt: str, results: list[VariantResult], title: str = "") -> Comparison:
        """Store a finished (or stopped) comparison and return it with its id."""
        title = title.strip() or " ".join(prompt.split())[:60] or "Comparison"
        try:
            with write_transaction(self._conn):
                self._conn.execute(
                    "INSERT INTO comparisons(title, prompt, created_at) VALUES (?,?,?)",
                    (title, prompt, time.time()))
                comparison_id = self._conn.last_insert_rowid()
                for position, result in enumerate(results):
                    self._conn.execute(
                        "INSERT INTO comparison_variants(comparison_id, position, variant, "
                        "output, status, stats) VALUES (?,?,?,?,?,?)",
                        (comparison_id, position, json.dumps(result.variant.to_json(),
                                                             ensure_ascii=False),
                         result.output, result.status,
                         json.dumps(result.stats) if result.stats is not None else None))
        except apsw.ConstraintError as exc:
            raise StoreError(f"The comparison could not be saved: {exc}") from exc
        except apsw.Error as exc:
            raise explain(exc, self._path) from exc
        return self.get(comparison_id)

    def list(self) -> list[Comparison]:
        """Saved comparisons, newest first, without their outputs."""
        rows = self._conn.execute("SELECT id, title, prompt, created_at FROM comparisons "
                                  "ORDER BY created_at DESC, id DESC")
        return [Comparison(*row) for row in rows]

    def get(self, comparison_id: int) -> Comparison:
        row = self._conn.execute("SELECT id, title, prompt, created_at FROM comparisons "
                                 "WHERE id = ?", (comparison_id,)).fetchone()
        if row is None:
            raise StoreError(f"Comparison {comparison_id} does not exist (it may have been "
                             "deleted).")
        results = tuple(
            VariantResult(Variant.from_json(json.loads(variant)), output, status,
                          json.loads(stats) if stats else None)
            for variant, output, status, stats in self._conn.execute(
                "SELECT variant, output, status, stats FROM comparison_variants "
                "WHERE comparison_id = ? ORDER BY position", (comparison_id,)))
        comparison_id, title, prompt, created_at = row
        return Comparison(comparison_id, title, prompt, created_at, results)

    def delete(self, comparison_id: int) -> None:
        try:
            write(self._conn, "DELETE FROM comparisons WHERE id = ?", (comparison_id,))
        except apsw.Error as exc:
            raise explain(exc, self._path) from exc
