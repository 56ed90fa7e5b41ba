"""Saved evaluation runs: the set, the subjects, and each item's result as it completes."""

from __future__ import annotations

import builtins
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw

from core.errors import StoreError
from core.store.db import EVAL_MIGRATIONS, explain, open_database, write, write_transaction


@dataclass(frozen=True)
class StoredRun:
    id: int
    title: str
    set_name: str
    set_path: str
    set_digest: str
    subjects: list[dict[str, Any]]
    metrics: list[str]
    options: dict[str, Any]
    status: str  # running, complete, incomplete (stopped by a crash or a failure), cancelled
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class StoredResult:
    subject: int
    item_id: str
    position: int
    reply: str
    scores: dict[str, float]
    detail: dict[str, Any]
    status: str  # complete or failed
    seconds: float


_RUN_COLUMNS = ("id, title, set_name, set_path, set_digest, subjects, metrics, options, status, "
                "created_at, updated_at")


def _run(row: tuple[Any, ...]) -> StoredRun:
    (run_id, title, set_name, set_path, digest, subjects, metrics, options, status, created,
     updated) = row
    return StoredRun(run_id, title, set_name, set_path, digest, json.loads(subjects),
                     json.loads(metrics), json.loads(options), status, created, updated)


class EvalStore:
    """Eval runs in their own database file (`core.config.evals_path()`: bulky results stay
    out of the chats' file), on a connection of its own (one thread owns it)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn = open_database(path, EVAL_MIGRATIONS)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> EvalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def create_run(self, title: str, set_name: str, set_path: str, set_digest: str,
                   subjects: list[dict[str, Any]], metrics: list[str],
                   options: dict[str, Any]) -> StoredRun:
        now = time.time()
        try:
            with write_transaction(self._conn):
                self._conn.execute(
                    "INSERT INTO eval_runs(title, set_name, set_path, set_digest, subjects, "
                    "metrics, options, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
                    (title, set_name, set_path, set_digest,
                     json.dumps(subjects, ensure_ascii=False), json.dumps(metrics),
                     json.dumps(options, ensure_ascii=False), now, now))
                run_id = self._conn.last_insert_rowid()
        except apsw.Error as exc:
            raise explain(exc, self._path) from exc
        return self.get(run_id)

    def add_result(self, run_id: int, subject: int, item_id: str, position: int, reply: str,
                   scores: dict[str, float], detail: dict[str, Any], status: str,
                   seconds: float) -> None:
        """Keep one item's result at once (committed before the next item starts)."""
        try:
            write(self._conn,
                  "INSERT OR REPLACE INTO eval_results(run_id, subject, item_id, position, "
                  "reply, scores, detail, status, seconds) VALUES (?,?,?,?,?,?,?,?,?)",
                  (run_id, subject, item_id, position, reply, json.dumps(scores),
                   json.dumps(detail, ensure_ascii=False), status, seconds))
        except apsw.Error as exc:
            raise explain(exc, self._path) from exc

    def set_status(self, run_id: int, status: str) -> None:
        try:
            write(self._conn, "UPDATE eval_runs SET status = ?, updated_at = ? WHERE id = ?",
                  (status, time.time(), run_id))
        except apsw.Error as exc:
            raise explain(exc, self._path) from exc

    def get(self, run_id: int) -> StoredRun:
        row = self._conn.execute(f"SELECT {_RUN_COLUMNS} FROM eval_runs WHERE id = ?",
                                 (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"Eval run {run_id} does not exist (see `glassbox eval list`).")
        return _run(row)

    def list(self) -> list[StoredRun]:
        """Runs, newest first."""
        return [_run(row) for row in self._conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM eval_runs ORDER BY created_at DESC, id DESC")]

    def results(self, run_id: int) -> builtins.list[StoredResult]:
        return [StoredResult(subject, item_id, position, reply, json.loads(scores),
                             json.loads(detail), status, seconds)
                for subject, item_id, position, reply, scores, detail, status, seconds
                in self._conn.execute(
                    "SELECT subject, item_id, position, reply, scores, detail, status, seconds "
                    "FROM eval_results WHERE run_id = ? ORDER BY subject, position",
                    (run_id,))]

    def done(self, run_id: int) -> set[tuple[int, str]]:
        """(subject, item id) pairs already saved: what a resumed run skips."""
        return {(s, i) for s, i in self._conn.execute(
            "SELECT subject, item_id FROM eval_results WHERE run_id = ?", (run_id,))}

    def delete(self, run_id: int) -> None:
        try:
            write(self._conn, "DELETE FROM eval_runs WHERE id = ?", (run_id,))
        except apsw.Error as exc:
            raise explain(exc, self._path) from exc
