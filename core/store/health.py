"""Is the database whole? A cheap check at open (PRAGMA quick_check), as plain data.

`quick_check` reads every page of every table and index once and checks the b-tree structure
and the records' format (not that each index matches its table: that is `integrity_check`,
several times slower). Damage it cannot see, such as a changed byte inside a message's text,
does not stop the app either. It runs in the app's start path off the GUI thread, in the CLI
commands that open the database, and in `glassbox doctor`.

Nothing here writes to the database: a damaged or foreign file is reported, never touched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw

from core.errors import StoreError

_BUSY_TIMEOUT_MS = 5000
_MAX_PROBLEMS = 20

# What check_database can find; only 'damaged' is repaired (restore or recover).
STATES = ("ok", "new", "damaged", "newer", "foreign", "busy", "unreadable")


class DatabaseDamaged(StoreError):
    """The database failed its check; the message says why and what can be done."""


@dataclass(frozen=True)
class DatabaseHealth:
    """The outcome of one check of the database file."""

    path: str
    state: str  # one of STATES
    message: str  # one or two sentences for a person
    schema_version: int | None = None  # PRAGMA user_version, when it could be read
    known_version: int = 0  # the newest schema this Glassbox knows
    size: int = 0  # bytes in the main file (the WAL not counted)
    problems: tuple[str, ...] = ()  # quick_check's findings, at most _MAX_PROBLEMS

    @property
    def ok(self) -> bool:
        """True when the app can open the database (a missing one is made at first start)."""
        return self.state in ("ok", "new")

    @property
    def repairable(self) -> bool:
        """True when restoring a backup or recovering the data is the way forward."""
        return self.state == "damaged"


def known_version() -> int:
    from core.store.db import MIGRATIONS

    return len(MIGRATIONS)


def check_database(path: Path) -> DatabaseHealth:
    """Check the database at `path` with quick_check, its schema version and its owner.
    Never raises for a bad file; the state and message say what was found."""
    known = known_version()
    base: dict[str, Any] = {"path": str(path), "known_version": known}
    try:
        base["size"] = path.stat().st_size
    except FileNotFoundError:
        return DatabaseHealth(state="new", message=f"There is no database yet at {path}; "
                              "Glassbox makes one when it starts.", **base)
    except OSError as exc:
        return DatabaseHealth(state="unreadable", message=f"{path} cannot be read: {exc}.",
                              **base)
    try:
        with _connection(path) as conn:
            return _check(conn, path, base)
    except (apsw.NotADBError, apsw.CorruptError) as exc:
        return _damaged(path, base, (str(exc),))
    except apsw.BusyError:
        return DatabaseHealth(state="busy", message=f"{path} is busy: another program is "
                              "writing to it. Close other Glassbox windows and try again.",
                              **base)
    except apsw.Error as exc:
        return DatabaseHealth(state="unreadable", message=f"{path} cannot be read: {exc}.",
                              **base)


def require_healthy(path: Path) -> DatabaseHealth:
    """check_database, raising DatabaseDamaged (or StoreError for the other states) when the
    app cannot go on with this file."""
    health = check_database(path)
    if health.ok:
        return health
    if health.repairable:
        raise DatabaseDamaged(health.message)
    raise StoreError(health.message)


def database_in_use(path: Path) -> bool:
    """True when another connection (this process or another) has the database open.

    In WAL mode every open connection holds a shared lock on the database file for its
    lifetime, so asking for an exclusive one, without waiting, answers the question; this is
    how SQLite itself decides that a closing connection is the last one."""
    if not path.exists():
        return False
    try:
        conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READWRITE)
    except apsw.Error:
        return False
    try:
        conn.config(apsw.SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1)  # leave a damaged file as it is
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        try:
            conn.execute("BEGIN EXCLUSIVE; COMMIT")
        except apsw.BusyError:
            return True
        except apsw.Error:
            return False  # damaged beyond reading the header: nobody can be using it
        return False
    finally:
        conn.close()


@contextlib.contextmanager
def _connection(path: Path) -> Iterator[apsw.Connection]:
    try:
        conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READWRITE)
    except apsw.CantOpenError:  # a read-only file or folder can still be checked
        conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        # Closing the last connection would checkpoint the WAL into the file: a check writes
        # nothing, so a damaged file and its WAL are moved aside as they were.
        conn.config(apsw.SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1)
        conn.set_busy_timeout(_BUSY_TIMEOUT_MS)
        yield conn
    finally:
        conn.close()


def _check(conn: apsw.Connection, path: Path, base: dict[str, Any]) -> DatabaseHealth:
    # One statement: both numbers from one snapshot (as core.store.db reads them).
    row: tuple[Any, ...] = conn.execute(
        "SELECT (SELECT user_version FROM pragma_user_version), "
        "(SELECT count(*) FROM sqlite_schema)").fetchall()[0]
    version, objects = int(row[0]), int(row[1])
    base["schema_version"] = version
    known = base["known_version"]
    if version > known:
        return DatabaseHealth(
            state="newer", message=f"{path} was made by a newer Glassbox (schema {version}; "
            f"this one knows {known}). Update Glassbox; nothing has been changed, repaired or "
            "backed up.", **base)
    if version == 0 and objects:
        return DatabaseHealth(
            state="foreign", message=f"{path} is an SQLite database of another program, not "
            "Glassbox's. Move it aside or set GLASSBOX_HOME to another folder.", **base)
    found = tuple(str(r[0]) for r in conn.execute(f"PRAGMA quick_check({_MAX_PROBLEMS})"))
    if found != ("ok",):
        return _damaged(path, base, found)
    return DatabaseHealth(state="ok", message=f"The database passed its check (schema "
                          f"{version}).", **base)


def _damaged(path: Path, base: dict[str, Any], found: tuple[str, ...]) -> DatabaseHealth:
    # quick_check puts several findings in one row, under a "*** in database main ***" line.
    problems = tuple(line.strip() for text in found for line in text.splitlines()
                     if line.strip() and not line.startswith("***"))[:_MAX_PROBLEMS]
    first = problems[0] if problems else "unreadable"
    count = f"{len(problems)} problems" if len(problems) > 1 else "a problem"
    return DatabaseHealth(
        state="damaged", message=f"The database {path} is damaged: SQLite's check found "
        f"{count} ({first}). Nothing has been changed.", problems=problems, **base)
