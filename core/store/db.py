"""Opening the database: pragmas for durability and numbered migrations by user_version."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import apsw

from core.errors import StoreError
from core.store.backup import backup_before_migration
from core.store.write_gate import GateTimeout, gate_for

# Glassbox's own writers queue at the write gate; this covers anyone else (the sqlite3 shell).
_BUSY_TIMEOUT_MS = 5000


def _migration_1(conn: apsw.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE chats (
            -- AUTOINCREMENT: a late result for a deleted chat must never land on a new one
            id INTEGER PRIMARY KEY AUTOINCREMENT,
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
            stats TEXT,  -- JSON or NULL
            created_at REAL NOT NULL
        );
        CREATE INDEX messages_by_chat ON messages(chat_id, id);
        CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);  -- value is JSON
        """
    )


def _migration_2(conn: apsw.Connection) -> None:
    conn.execute(
        """
        -- the document collections a chat answers from, as a JSON list of names
        ALTER TABLE chats ADD COLUMN collections TEXT NOT NULL DEFAULT '[]';
        -- how a reply was grounded (passages, scores, the exact prompt), JSON or NULL
        ALTER TABLE messages ADD COLUMN grounding TEXT;
        """
    )


def _migration_3(conn: apsw.Connection) -> None:
    conn.execute(
        """
        -- conversations are trees: a regenerated reply or an edited message is a sibling
        -- (no foreign key: a cascade down a long chain would hit SQLite's trigger depth limit;
        -- ChatStore deletes a subtree itself)
        ALTER TABLE messages ADD COLUMN parent_id INTEGER;
        -- the end of the branch on screen; the conversation is the path from the root to it
        ALTER TABLE chats ADD COLUMN active_leaf_id INTEGER;
        -- existing chats become one path: each message hangs under the one written before it
        UPDATE messages SET parent_id = (
            SELECT max(p.id) FROM messages p WHERE p.chat_id = messages.chat_id
            AND p.id < messages.id);
        UPDATE chats SET active_leaf_id = (SELECT max(id) FROM messages m
                                           WHERE m.chat_id = chats.id);
        CREATE INDEX messages_by_parent ON messages(chat_id, parent_id);
        -- system prompts, personas and few-shot sets; body is core.prompts.presets JSON
        CREATE TABLE presets (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('persona', 'few-shot', 'style')),
            body TEXT NOT NULL,
            builtin INTEGER NOT NULL DEFAULT 0,
            updated_at REAL NOT NULL
        );
        -- one user prompt run through several variants, each with its output and figures
        CREATE TABLE comparisons (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            title TEXT NOT NULL,
            prompt TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE comparison_variants (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            comparison_id INTEGER NOT NULL REFERENCES comparisons(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            variant TEXT NOT NULL,  -- JSON: label, system prompt, few-shot, sampling, model
            output TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'complete'
                CHECK (status IN ('complete', 'streaming', 'interrupted', 'failed')),
            stats TEXT  -- JSON or NULL
        );
        CREATE INDEX variants_by_comparison ON comparison_variants(comparison_id, position);
        """
    )


def _migration_4(conn: apsw.Connection) -> None:
    conn.execute(
        """
        -- the alternative below this message that was shown last, so that switching back to
        -- a branch returns to where the user was in it (NULL: the newest one)
        ALTER TABLE messages ADD COLUMN chosen_child_id INTEGER;
        """
    )


def _migration_5(conn: apsw.Connection) -> None:
    conn.execute(
        """
        -- the agent trace of a reply made with tools (core.tools.types.AgentTrace), JSON or NULL
        ALTER TABLE messages ADD COLUMN agent_trace TEXT;
        -- the chat's tool settings (core.tools.types.ChatTools) as a JSON object
        ALTER TABLE chats ADD COLUMN tools TEXT NOT NULL DEFAULT '{}';
        """
    )


MIGRATIONS: list[Callable[[apsw.Connection], None]] = [
    _migration_1, _migration_2, _migration_3, _migration_4, _migration_5]


Migrations = Sequence[Callable[[apsw.Connection], None]]


def _evals_1(conn: apsw.Connection) -> None:
    # Evaluation runs (core/store/evals.py), in a file of their own (evals.sqlite3): results
    # are bulky, and the chats' schema stays small enough for page 1, where damage to any one
    # later page cannot hide every table (tests/test_db_safety.py).
    # eval_runs: set_digest (sha256 of the set file) lets resume refuse a changed set;
    # subjects, metrics and options are JSON. eval_results: one row per subject and item,
    # written as each completes so a crash keeps the rest; scores and detail are JSON.
    # IF NOT EXISTS: replaying the migration on a database that has them is a no-op.
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS eval_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL,
            set_name TEXT NOT NULL, set_path TEXT NOT NULL, set_digest TEXT NOT NULL,
            subjects TEXT NOT NULL, metrics TEXT NOT NULL, options TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'complete', 'incomplete', 'cancelled')),
            created_at REAL NOT NULL, updated_at REAL NOT NULL);
        CREATE TABLE IF NOT EXISTS eval_results (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id INTEGER NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
            subject INTEGER NOT NULL, item_id TEXT NOT NULL, position INTEGER NOT NULL,
            reply TEXT NOT NULL DEFAULT '', scores TEXT NOT NULL DEFAULT '{}',
            detail TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL CHECK (status IN ('complete', 'failed')),
            seconds REAL NOT NULL DEFAULT 0, UNIQUE (run_id, subject, item_id));
        """
    )


EVAL_MIGRATIONS: list[Callable[[apsw.Connection], None]] = [_evals_1]


def open_database(path: Path, migrations: Migrations | None = None) -> apsw.Connection:
    """Open (or create) the database at `path`, migrated (with `migrations`, default the
    profile database's) and ready to use. Raises StoreError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = apsw.Connection(str(path))
    except (OSError, apsw.Error) as exc:
        raise StoreError(
            f"Cannot open the database {path}: {exc}. Check that its folder is writable."
        ) from exc
    try:
        _prepare(conn, path, MIGRATIONS if migrations is None else migrations)
    except BaseException:
        conn.close()
        raise
    return conn


def _prepare(conn: apsw.Connection, path: Path, migrations: Migrations) -> None:
    try:
        conn.set_busy_timeout(_BUSY_TIMEOUT_MS)
        # Before WAL: switching to it rewrites the header.
        _refuse_if_not_ours(conn, path, len(migrations))
        _use_wal(conn)
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, path, migrations)
    except (apsw.NotADBError, apsw.CorruptError) as exc:
        raise StoreError(
            f"{path} is not a Glassbox database, or it is damaged. Move it aside to start "
            "afresh; nothing has been written to it."
        ) from exc
    except apsw.Error as exc:
        raise explain(exc, path) from exc


def _use_wal(conn: apsw.Connection) -> None:
    # Two connections switching a new file to WAL at once can get "busy" straight away, without
    # the busy timeout applying (the app opens a reader and a writer at start); it clears fast.
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except apsw.BusyError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def migrate(conn: apsw.Connection, path: Path, migrations: Migrations | None = None) -> None:
    """Bring the schema up to date, one migration per transaction; an existing database is
    backed up first (core.store.backup: a failed backup is a logged warning, not a stop)."""
    steps = MIGRATIONS if migrations is None else migrations
    known = len(steps)
    first = _checked_version(conn, path, known)
    if 0 < first < known:
        backup_before_migration(conn, path, first)
    while _checked_version(conn, path, known) < known:
        # A crash mid-migration rolls back to the previous version as a whole.
        with write_transaction(conn):
            # Re-read under the write lock: another process may have migrated meanwhile.
            version = _checked_version(conn, path, known)
            if version < known:
                steps[version](conn)
                conn.execute(f"PRAGMA user_version = {version + 1}")


def _checked_version(conn: apsw.Connection, path: Path, known: int) -> int:
    version = conn.execute("PRAGMA user_version").fetchall()[0][0]
    assert isinstance(version, int)
    _refuse_newer(version, path, known)
    return version


def _refuse_newer(version: int, path: Path, known: int) -> None:
    if version > known:
        raise StoreError(
            f"{path} was made by a newer Glassbox (schema {version}; this one knows "
            f"{known}). Update Glassbox, or set GLASSBOX_HOME to another folder."
        )


def _refuse_if_not_ours(conn: apsw.Connection, path: Path, known: int) -> None:
    # One statement, so both numbers come from the same snapshot even while another process
    # is migrating the file.
    row: tuple[Any, ...] = conn.execute(
        "SELECT (SELECT user_version FROM pragma_user_version), "
        "(SELECT count(*) FROM sqlite_schema)"
    ).fetchall()[0]
    version, objects = row
    _refuse_newer(version, path, known)
    # Version 0 with tables in it is another program's database: adding ours would damage it.
    if version == 0 and objects:
        raise StoreError(
            f"{path} is an SQLite database of another program, not Glassbox's. Move it aside "
            "or set GLASSBOX_HOME to another folder; nothing has been written to it."
        )


@contextmanager
def write_transaction(conn: apsw.Connection) -> Iterator[None]:
    """A transaction that holds the write lock from its start (BEGIN IMMEDIATE), taken in turn
    with every other writer of the file (core.store.write_gate); inside one already open, a
    savepoint of it. Raises apsw.BusyError when the turn does not come."""
    if conn.in_transaction:
        with conn:
            yield
        return
    try:
        with gate_for(conn.filename).turn():
            # IMMEDIATE takes the write lock before anything is read. A deferred transaction
            # that reads first fails at once when another connection commits before it writes
            # (WAL's stale snapshot: the busy timeout does not apply), and two processes
            # opening a new database at once could both run the same migration.
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
    except GateTimeout:  # only ever raised while waiting for the turn, before BEGIN
        raise apsw.BusyError("another Glassbox process held the database too long") from None


def write(conn: apsw.Connection, sql: str, params: tuple[Any, ...] = ()) -> int:
    """Run one write statement in its turn (see write_transaction); return the rows changed."""
    with write_transaction(conn):
        conn.execute(sql, params)
        return conn.changes()


def explain(exc: apsw.Error, path: Path) -> StoreError:
    """A StoreError that says what went wrong with `path` in terms a person can act on."""
    if isinstance(exc, apsw.BusyError):
        return StoreError(
            f"{path} is busy: another program is writing to it. Close other Glassbox windows "
            "and try again."
        )
    if isinstance(exc, apsw.FullError):
        return StoreError(f"The disk holding {path} is full. Free some space and try again.")
    if isinstance(exc, apsw.ReadOnlyError):
        return StoreError(f"{path} is read-only. Check its permissions.")
    return StoreError(f"The database {path} could not be changed: {exc}")
