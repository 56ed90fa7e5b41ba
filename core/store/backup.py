"""Rolling backups of the database with SQLite's online backup API, as Anki keeps them.

A backup is a whole, consistent copy of the database (every committed transaction, the WAL
included) written while the app runs: at start at most once a day, and before every
migration of an existing database. The newest `KEEP` are kept in `<data folder>/backups/`.

Making a backup must never stop Glassbox from opening or lose data, so `backup_if_due` and
`backup_before_migration` do not raise: a full disk or an unwritable backup folder comes back
as a warning (and is logged), and a half-written copy is deleted, never listed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import apsw

from core.errors import StoreError

log = logging.getLogger(__name__)

KEEP = 7
# Free space a backup must leave on the disk: filling it would make the chats' own writes fail.
RESERVE_BYTES = 100 * 1000 * 1000
BUSY_TIMEOUT_MS = 5000
DAY_S = 24 * 60 * 60
BACKUP_DIR = "backups"
_PARTIAL = ".partial"
_NAME = re.compile(r"^glassbox-(\d{8}-\d{6})(?:-(\d+))?-([a-z0-9-]+)\.sqlite3$")


class BackupError(StoreError):
    """A backup could not be written (full disk, unwritable folder) or read back."""


@dataclass(frozen=True)
class BackupInfo:
    """One backup file, as plain data for the CLI and the window."""

    path: str
    size: int  # bytes
    created_at: float  # seconds since the epoch (the file's modification time)
    reason: str  # 'daily', 'manual', 'before-migration-5', ...

    @property
    def name(self) -> str:
        return Path(self.path).name


@dataclass(frozen=True)
class BackupOutcome:
    """What an automatic backup did: made one, found it not due, or failed with a warning."""

    backup: BackupInfo | None = None
    warning: str | None = None


def backup_dir(db_path: Path) -> Path:
    """Where the backups of `db_path` live (not created here)."""
    return db_path.parent / BACKUP_DIR


def list_backups(db_path: Path) -> list[BackupInfo]:
    """The backups of `db_path`, newest first. A missing or unreadable folder lists none."""
    folder = backup_dir(db_path)
    found: list[BackupInfo] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    for entry in entries:
        match = _NAME.match(entry.name)
        if match is None:
            continue
        try:
            stat = entry.stat()
        except OSError:
            continue
        found.append(BackupInfo(str(entry), stat.st_size, stat.st_mtime, match.group(3)))
    found.sort(key=lambda b: (b.created_at, b.name), reverse=True)
    return found


def make_backup(conn: apsw.Connection, db_path: Path, reason: str = "manual",
                keep: int = KEEP) -> BackupInfo:
    """Copy the database open on `conn` into the backup folder, then keep the newest `keep`.

    Raises BackupError saying what went wrong; a partial copy is removed."""
    folder = backup_dir(db_path)
    if folder.exists() and not folder.is_dir():
        raise BackupError(f"{folder} is not a folder, so no backup can be written there. Move "
                          "it aside.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"Cannot make the backup folder {folder}: {_reason(exc)}. Check "
                          "that the data folder is writable.") from exc
    if not os.access(folder, os.W_OK):
        raise BackupError(f"No backup was written: the backup folder {folder} is not "
                          "writable. Check its permissions.")
    _require_room(folder, db_path)
    target = _free_name(folder, reason)
    partial = folder / (target.name + f".{os.getpid()}{_PARTIAL}")
    try:
        _copy(conn, partial)
        os.replace(partial, target)
    except (OSError, apsw.Error) as exc:
        _remove_quietly(partial)
        raise BackupError(f"The backup into {folder} failed: {_reason(exc)}. The database "
                          "itself is untouched.") from exc
    _prune(db_path, keep)
    stat = target.stat()
    log.info("database backup written: %s (%d bytes)", target, stat.st_size)
    return BackupInfo(str(target), stat.st_size, stat.st_mtime, reason)


def backup_if_due(db_path: Path, max_age_s: float = DAY_S, keep: int = KEEP) -> BackupOutcome:
    """The start-up backup: one when the newest backup is older than `max_age_s` (or there is
    none). Never raises: a failure comes back as `warning`. Call it only on a database that
    passed its check, so that a damaged copy never pushes a good one out of the rotation."""
    backups = list_backups(db_path)
    if backups and time.time() - backups[0].created_at < max_age_s:
        return BackupOutcome()
    if not db_path.is_file():
        return BackupOutcome()
    try:
        conn = apsw.Connection(str(db_path), flags=apsw.SQLITE_OPEN_READWRITE)
        conn.set_busy_timeout(BUSY_TIMEOUT_MS)
    except apsw.Error as exc:
        return _warn(f"No backup was made: {db_path} could not be read ({exc}).")
    try:
        return BackupOutcome(backup=make_backup(conn, db_path, "daily", keep))
    except BackupError as exc:
        return _warn(str(exc))
    finally:
        conn.close()


def backup_before_migration(conn: apsw.Connection, db_path: Path, version: int) -> BackupOutcome:
    """Called by `migrate()` when migrations are about to run on an existing database with
    data in it. Never raises: the migration itself is all-or-nothing, so it may go ahead."""
    if version == 0:
        return BackupOutcome()  # a new, empty database: nothing to keep
    try:
        info = make_backup(conn, db_path, f"before-migration-{version + 1}")
    except BackupError as exc:
        return _warn(f"{exc} The update of the database goes ahead without one.")
    return BackupOutcome(backup=info)


def _copy(conn: apsw.Connection, target: Path) -> None:
    dest = apsw.Connection(str(target))
    try:
        # One step copies every page under one read transaction: a consistent snapshot, and
        # in WAL mode writers carry on meanwhile.
        with dest.backup("main", conn, "main") as job:
            while not job.done:
                job.step(-1)
        # A backup is one self-contained file: no -wal or -shm next to it once it is read.
        dest.execute("PRAGMA journal_mode = DELETE")
    finally:
        dest.close()
    with open(target, "rb+") as f:
        os.fsync(f.fileno())


def _require_room(folder: Path, db_path: Path) -> None:
    try:
        free = shutil.disk_usage(folder).free
        needed = db_path.stat().st_size + RESERVE_BYTES
    except OSError:
        return  # unknown: the copy itself will say if the disk is full
    if free < needed:
        raise BackupError(f"No backup was written into {folder}: the disk is nearly full "
                          f"({free // 1_000_000} MB free; a backup needs "
                          f"{needed // 1_000_000} MB with room left for your chats). Free "
                          "some space.")


def _free_name(folder: Path, reason: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = folder / f"glassbox-{stamp}-{reason}.sqlite3"
    n = 2
    while target.exists():  # two backups in one second (tests, two processes)
        target = folder / f"glassbox-{stamp}-{n}-{reason}.sqlite3"
        n += 1
    return target


def _prune(db_path: Path, keep: int) -> None:
    for old in list_backups(db_path)[keep:]:
        _remove_quietly(Path(old.path))
    # A copy cut short by a crash or a kill; an hour old, it is no other process's either.
    for partial in backup_dir(db_path).glob(f"*{_PARTIAL}"):
        with contextlib.suppress(OSError):
            if time.time() - partial.stat().st_mtime > 3600:
                _remove_quietly(partial)


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, apsw.FullError) or getattr(exc, "errno", None) == 28:  # ENOSPC
        return "the disk is full"
    if isinstance(exc, PermissionError | apsw.ReadOnlyError | apsw.CantOpenError):
        return "it is not writable"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc)


def _warn(message: str) -> BackupOutcome:
    log.warning("%s", message)
    return BackupOutcome(warning=message)
