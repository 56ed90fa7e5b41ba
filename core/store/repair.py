"""Two ways back from a damaged database: restore a backup, or recover what can be read.

Either way the damaged file is moved aside with its -wal and -shm (`glassbox.sqlite3.damaged-
20250101-120000`, `...-wal`, `...-shm`), never deleted, and the new file takes its place only
once it is whole (the aside copy keeps its WAL, so opening it shows what it held). Neither
runs while another connection has the database open, and neither touches a database made by
a newer Glassbox or by another program.

Recovery copies table by table, row by row in rowid order, into a database freshly built at
the damaged file's schema version, skipping the parts that cannot be read (see `_rows`); then
it brings the schema up to date. SQLite's own recovery extension (sqlite3_recover) would also
read rows out of orphaned pages, but apsw does not ship it. Rows whose chat or comparison was
lost are kept under a placeholder, branch links that point at lost messages are re-attached
to the message before them. Of the document index only the collections and the files and
folders added to them are kept: the documents, chunks, vectors (vec0) and full text (FTS5)
are derived from those files, and re-indexing the collection rebuilds them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import apsw

from core.errors import StoreError
from core.store.backup import BackupInfo, list_backups
from core.store.health import DatabaseHealth, check_database, database_in_use

log = logging.getLogger(__name__)

# Tables of the document index whose rows are the user's own choices; the rest is rebuilt.
_RAG_KEPT = ("rag_collections", "rag_sources")
_SIDE_FILES = ("-wal", "-shm")
_MIN_ROWID = -(2**63)
_MAX_ROWID = 2**63 - 1
# Past this many unreadable places in one table the rest of it is given up on.
_MAX_FAILURES = 1_000


@dataclass(frozen=True)
class TableRecovery:
    table: str
    copied: int
    unreadable: int  # places where reading failed and rows were skipped
    rejected: int  # rows read but refused by the schema (damaged values)


@dataclass(frozen=True)
class RepairResult:
    """What a restore or a recovery did, as plain data for the CLI and the window."""

    action: str  # 'restore' or 'recover'
    database: str
    kept_aside: tuple[str, ...]  # the old file and its -wal/-shm, moved aside
    message: str
    backup: str | None = None  # the backup restored
    tables: tuple[TableRecovery, ...] = ()


def restore_backup(db_path: Path, backup: str | Path | None = None) -> RepairResult:
    """Put a backup in place of the database (by default the newest one that passes its
    check). The current file is moved aside. Raises StoreError saying why not."""
    current = _refuse_unsafe(db_path)
    chosen = _choose_backup(db_path, backup)
    staged = db_path.with_name(db_path.name + ".restoring")
    _remove(staged)
    try:
        shutil.copyfile(chosen.path, staged)
        with open(staged, "rb+") as f:
            os.fsync(f.fileno())
    except OSError as exc:
        _remove(staged)
        raise StoreError(f"The backup could not be copied next to the database: {exc}. "
                         "Nothing has been changed.") from exc
    aside = _move_aside(db_path, "damaged" if current.repairable else "replaced")
    os.replace(staged, db_path)
    log.info("restored %s from %s; the old file is %s", db_path, chosen.path, aside)
    what = "The damaged database" if current.repairable else "The database it replaced"
    return RepairResult(
        "restore", str(db_path), aside, backup=chosen.path,
        message=f"Restored the backup {chosen.name} ({_when(chosen.created_at)}). "
        f"{what} is kept as {Path(aside[0]).name}." if aside else
        f"Restored the backup {chosen.name} ({_when(chosen.created_at)}).")


def recover_database(db_path: Path) -> RepairResult:
    """Copy what can still be read from the database into a new file that takes its place;
    the old one is moved aside. Raises StoreError when nothing at all could be read."""
    health = _refuse_unsafe(db_path)
    if health.state == "new":
        raise StoreError(f"There is no database at {db_path} to recover.")
    staged = db_path.with_name(db_path.name + ".recovering")
    work = db_path.with_name(db_path.name + ".recovering-source")
    _remove(staged)
    _remove(work)
    try:
        _working_copy(db_path, work)
        tables = _recover_into(work, staged, health.schema_version)
    except BaseException:
        _remove(staged)
        raise
    finally:
        _remove(work)
    aside = _move_aside(db_path, "damaged" if health.repairable else "replaced")
    os.replace(staged, db_path)
    copied = sum(t.copied for t in tables)
    skipped = sum(t.unreadable for t in tables)
    rejected = sum(t.rejected for t in tables)
    lost = (f"; {skipped} unreadable part(s) skipped" if skipped else "") + \
        (f"; {rejected} damaged row(s) left out" if rejected else "")
    log.info("recovered %s: %d rows%s; the old file is %s", db_path, copied, lost, aside)
    return RepairResult(
        "recover", str(db_path), aside, tables=tables,
        message=f"Recovered {copied} rows into a new database{lost}. Document collections "
        "keep their files and folders; re-index them to rebuild their search index. The "
        f"old file is kept as {Path(aside[0]).name}.")


# -- at the next start ------------------------------------------------------------------------
def schedule_repair(db_path: Path, action: str, backup: str | None = None) -> None:
    """Ask for a restore or a recovery the next time the app starts, before it opens the
    database (while it runs, its own connections hold the file). Replaces any earlier ask."""
    if action not in ("restore", "recover"):
        raise ValueError(action)
    _scheduled_path(db_path).write_text(json.dumps({"action": action, "backup": backup}))


def scheduled_repair(db_path: Path) -> tuple[str, str | None] | None:
    """The (action, backup) asked for at the next start, if any."""
    try:
        data = json.loads(_scheduled_path(db_path).read_text())
        return str(data["action"]), data.get("backup")
    except (OSError, ValueError, KeyError, TypeError):
        return None


def run_scheduled_repair(db_path: Path) -> RepairResult | None:
    """Do what was scheduled, once: the request is removed first, so a repair that fails (or
    crashes) is reported, not retried at every start. Raises StoreError as the repairs do."""
    wanted = scheduled_repair(db_path)
    _scheduled_path(db_path).unlink(missing_ok=True)
    if wanted is None:
        return None
    action, backup = wanted
    if action == "restore":
        return restore_backup(db_path, backup)
    return recover_database(db_path)


def _scheduled_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".repair-at-start.json")


# -- checks ------------------------------------------------------------------------------------
def _refuse_unsafe(db_path: Path) -> DatabaseHealth:
    health = check_database(db_path)
    if health.state in ("newer", "foreign", "busy", "unreadable"):
        raise StoreError(health.message)
    if database_in_use(db_path):
        raise StoreError(f"{db_path} is open in Glassbox or another program. Close it, then "
                         "try again; nothing has been changed.")
    return health


def _choose_backup(db_path: Path, wanted: str | Path | None) -> BackupInfo:
    backups = list_backups(db_path)
    if wanted is None:
        for info in backups:
            if check_database(Path(info.path)).state == "ok":
                return info
        raise StoreError("There is no usable backup to restore"
                         + (f" ({len(backups)} found, none passed its check)." if backups
                            else ".") + " Recover what can be read instead.")
    path = Path(wanted).expanduser()
    if not path.is_file():
        named = [b for b in backups if b.name == str(wanted)]
        if not named:
            names = ", ".join(b.name for b in backups) or "none"
            raise StoreError(f"No backup named {wanted!r} (backups: {names}).")
        path = Path(named[0].path)
    health = check_database(path)
    if health.state != "ok":
        raise StoreError(f"The backup {path.name} cannot be restored: {health.message}")
    stat = path.stat()
    return BackupInfo(str(path), stat.st_size, stat.st_mtime, "chosen")


# -- moving files ------------------------------------------------------------------------------
def _move_aside(db_path: Path, label: str) -> tuple[str, ...]:
    """Rename the database and its -wal/-shm to `<name>.<label>-<time>[-wal|-shm]`; the WAL
    and shm first, so that the database path never pairs with another file's WAL."""
    if not db_path.exists():
        return ()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = db_path.with_name(f"{db_path.name}.{label}-{stamp}")
    n = 2
    while aside.exists():
        aside = db_path.with_name(f"{db_path.name}.{label}-{stamp}-{n}")
        n += 1
    moved: list[str] = []
    for suffix in _SIDE_FILES:
        side = Path(str(db_path) + suffix)
        if side.exists():
            os.replace(side, str(aside) + suffix)
            moved.append(str(aside) + suffix)
    os.replace(db_path, aside)
    return (str(aside), *moved)


def _remove(path: Path) -> None:
    for p in (path, *(Path(str(path) + s) for s in (*_SIDE_FILES, "-journal"))):
        p.unlink(missing_ok=True)


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


# -- recovery ----------------------------------------------------------------------------------
def _working_copy(source: Path, work: Path) -> None:
    """Recovery reads a copy (with its WAL), so the damaged file stays exactly as it was. A
    truncated copy is padded back to the length its header gives: SQLite refuses a whole
    file whose tables start past its end, and reads the missing pages as damaged ones."""
    try:
        shutil.copyfile(source, work)
        if Path(str(source) + "-wal").exists():
            shutil.copyfile(str(source) + "-wal", str(work) + "-wal")
    except OSError as exc:
        raise StoreError(f"A working copy of the damaged database could not be made next to "
                         f"it: {exc}. Nothing has been changed.") from exc
    with open(work, "r+b") as f:
        header = f.read(100)
        if len(header) < 100:
            return
        page_size = int.from_bytes(header[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        if page_size < 512 or page_size & (page_size - 1):
            return  # the header itself is damaged
        pages = int.from_bytes(header[28:32], "big")
        valid = header[24:28] == header[92:96]  # the page count is kept up to date
        length = f.seek(0, os.SEEK_END)
        wanted = max(pages * page_size if valid else 0, -(-length // page_size) * page_size)
        if wanted > length:
            f.truncate(wanted)


def _recover_into(source: Path, target: Path, version: int | None) -> tuple[TableRecovery, ...]:
    from core.store.db import MIGRATIONS

    known = len(MIGRATIONS)
    start = version if version is not None and 0 < version <= known else known
    with _reader(source) as src, _writer(target) as dst:
        dst.execute("BEGIN")
        for step in range(start):  # the damaged file's own schema, so its columns fit
            MIGRATIONS[step](dst)
        dst.execute(f"PRAGMA user_version = {start}")
        _add_kept_rag_tables(src, dst)
        tables = tuple(_copy_table(src, dst, name) for name in _tables(dst))
        dst.execute("COMMIT")
        if not any(t.copied for t in tables):
            raise StoreError(f"Nothing could be read from {source}: it is damaged beyond "
                             "recovery. Restore a backup instead; nothing has been changed.")
        for step in range(start, known):
            with dst:
                MIGRATIONS[step](dst)
                dst.execute(f"PRAGMA user_version = {step + 1}")
        with dst:
            _repair_links(dst)
            _carry_sequences(src, dst)
        check = dst.execute("PRAGMA integrity_check").fetchall()
        if [r[0] for r in check] != ["ok"]:
            raise StoreError(f"The recovered database failed its own check ({check[0][0]}); "
                             "nothing has been changed.")
        return tables


@contextlib.contextmanager
def _reader(path: Path) -> Iterator[apsw.Connection]:
    conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READWRITE)
    try:
        # Closing the last connection checkpoints the WAL into the file: not this one, the
        # damaged file and its WAL are kept aside as they are.
        conn.config(apsw.SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1)
        conn.set_busy_timeout(5000)
        yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def _writer(path: Path) -> Iterator[apsw.Connection]:
    conn = apsw.Connection(str(path))
    try:
        conn.execute("PRAGMA foreign_keys = OFF")  # parents may be lost: fixed up afterwards
        yield conn
    finally:
        conn.close()


def _tables(conn: apsw.Connection) -> list[str]:
    return [str(r[0]) for r in conn.execute(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY rowid")]


def _columns(conn: apsw.Connection, table: str) -> list[str]:
    return [str(r[1]) for r in conn.execute(f'PRAGMA table_info("{table}")')]


def _add_kept_rag_tables(src: apsw.Connection, dst: apsw.Connection) -> None:
    """Create the document index's kept tables as the damaged file had them; the index
    store adds the rest (and its version) the next time it opens."""
    for name in _RAG_KEPT:
        try:
            row = src.execute("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?",
                              (name,)).fetchone()
        except apsw.Error:
            return
        if row is not None and row[0]:
            dst.execute(str(row[0]))


def _copy_table(src: apsw.Connection, dst: apsw.Connection, table: str) -> TableRecovery:
    unreadable = [0]
    try:
        present = set(_columns(src, table))
    except apsw.Error:
        present = set()
    columns = [c for c in _columns(dst, table) if c in present]
    if not columns:
        return TableRecovery(table, 0, 1 if not present else 0, 0)
    names = ", ".join(f'"{c}"' for c in columns)
    insert = f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'
    copied = rejected = 0
    for row in _rows(src, table, columns, unreadable):
        try:
            dst.execute(insert, row)
            copied += 1
        except apsw.Error:  # a damaged value the schema refuses (NOT NULL, CHECK, type)
            rejected += 1
    return TableRecovery(table, copied, unreadable[0], rejected)


def _rows(src: apsw.Connection, table: str, columns: list[str],
          unreadable: list[int]) -> Iterator[tuple[object, ...]]:
    """Every row that can be read, in rowid order within each readable stretch.

    Where reading fails (a damaged page), the walk resumes past it: from the failed id it
    seeks forward at doubling distances (+1, +2, +4, ... up to the largest id) and walks again
    from each place where the table can be read, starting at the lowest such id (a binary
    search back to the last place that failed). Every place is tried, not just the first:
    a damaged page can point at a garbage id far ahead and hide the readable rows between.
    A row is yielded once, however many walks reach it. Text that is no longer valid UTF-8
    is kept, with the bad bytes replaced."""
    names = ", ".join(f'"{c}"' for c in columns)
    query = f'SELECT rowid, {names} FROM "{table}" WHERE rowid >= ? ORDER BY rowid'
    seen: set[int] = set()
    tried: set[int] = set()
    todo = [_MIN_ROWID]
    while todo and unreadable[0] < _MAX_FAILURES:
        start = todo.pop(0)
        if start in tried:
            continue
        tried.add(start)
        position = start
        try:
            for row in src.execute(query, (start,)):
                rowid = int(row[0])
                if rowid in seen:
                    break  # joined a stretch read before
                seen.add(rowid)
                position = rowid + 1
                yield tuple(row[1:])
        except UnicodeDecodeError:
            found = _probe(src, table, position)
            if isinstance(found, int) and found not in seen:
                mended = _read_mending_text(src, table, columns, found)
                seen.add(found)
                if mended is not None:
                    yield mended
                todo.insert(0, found + 1)
            elif isinstance(found, int):
                todo.insert(0, found + 1)
        except apsw.Error:
            unreadable[0] += 1
            # Resume after the row that failed: the first id from `position`, when a seek
            # can still name it (reading its record is what failed), else the next id.
            failed = _probe(src, table, max(position, 0))
            low = failed + 1 if isinstance(failed, int) else max(position, 0) + 1
            # The probe can read a garbage id out of the damaged page itself (one far ahead
            # of the rows after it): seek from just past the last good row as well.
            todo = sorted(set(todo) | set(_resume_points(src, table, low))
                          | set(_resume_points(src, table, max(position, 0) + 1)))


def _read_mending_text(src: apsw.Connection, table: str, columns: list[str],
                       rowid: int) -> tuple[object, ...] | None:
    picks = ", ".join(f'typeof("{c}"), CASE WHEN typeof("{c}") = \'text\' '
                      f'THEN CAST("{c}" AS BLOB) ELSE "{c}" END' for c in columns)
    try:
        row = src.execute(f'SELECT {picks} FROM "{table}" WHERE rowid = ?', (rowid,)).fetchone()
    except apsw.Error:
        return None
    if row is None:
        return None
    values = []
    for kind, value in zip(row[::2], row[1::2], strict=True):
        if kind == "text" and isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        values.append(value)
    return tuple(values)


def _resume_points(src: apsw.Connection, table: str, low: int) -> list[int]:
    points: list[int] = []
    failed: int | None = None
    gap = 0
    while low + gap <= _MAX_ROWID:
        place = low + gap
        found = _probe(src, table, place)
        if found is _UNREADABLE:
            failed = place
        elif found is None:
            break  # nothing at or after this id
        else:
            points.append(place if failed is None else _lowest_readable(src, table, failed + 1,
                                                                          place))
            failed = None
        gap = gap * 2 or 1
    return points


def _lowest_readable(src: apsw.Connection, table: str, low: int, high: int) -> int:
    """The smallest id in [low, high] from which the table can be read (high can)."""
    while low < high:
        middle = (low + high) // 2
        if _probe(src, table, middle) is _UNREADABLE:
            low = middle + 1
        else:
            high = middle
    return low


_UNREADABLE = object()


def _probe(src: apsw.Connection, table: str, place: int) -> object:
    """The first row id at or after `place`, None when there is none, or _UNREADABLE."""
    try:
        row = src.execute(f'SELECT rowid FROM "{table}" WHERE rowid >= ? ORDER BY rowid '
                          "LIMIT 1", (place,)).fetchone()
    except apsw.Error:
        return _UNREADABLE
    return None if row is None else int(row[0])


def _repair_links(dst: apsw.Connection) -> None:
    """Rows whose parent row was lost: kept under a placeholder, or re-linked."""
    tables = set(_tables(dst))
    now = time.time()
    dst.execute(
        "INSERT INTO chats (id, title, created_at, updated_at) "
        "SELECT chat_id, 'Recovered chat ' || chat_id, min(created_at), max(created_at) "
        "FROM messages WHERE chat_id NOT IN (SELECT id FROM chats) GROUP BY chat_id")
    # A branch link to a lost message: hang the message under the one written before it.
    dst.execute(
        "UPDATE messages SET parent_id = (SELECT max(p.id) FROM messages p "
        "WHERE p.chat_id = messages.chat_id AND p.id < messages.id) "
        "WHERE parent_id IS NOT NULL AND parent_id NOT IN (SELECT id FROM messages)")
    dst.execute("UPDATE messages SET chosen_child_id = NULL WHERE chosen_child_id IS NOT NULL "
                "AND chosen_child_id NOT IN (SELECT id FROM messages)")
    dst.execute(
        "UPDATE chats SET active_leaf_id = (SELECT max(id) FROM messages m "
        "WHERE m.chat_id = chats.id) WHERE active_leaf_id IS NULL "
        "OR active_leaf_id NOT IN (SELECT id FROM messages)")
    dst.execute(
        "INSERT INTO comparisons (id, title, prompt, created_at) "
        "SELECT DISTINCT comparison_id, 'Recovered comparison ' || comparison_id, '', ? "
        "FROM comparison_variants WHERE comparison_id NOT IN (SELECT id FROM comparisons)",
        (now,))
    if {"rag_collections", "rag_sources"} <= tables:
        dst.execute(
            "INSERT INTO rag_collections (id, name, created_at) "
            "SELECT DISTINCT collection_id, 'Recovered collection ' || collection_id, ? "
            "FROM rag_sources WHERE collection_id NOT IN (SELECT id FROM rag_collections)",
            (now,))


def _carry_sequences(src: apsw.Connection, dst: apsw.Connection) -> None:
    """AUTOINCREMENT ids never come back (a late reply for a deleted chat must not land on a
    new one): the new file's counters start where the damaged file's were, where readable."""
    try:
        old = {str(r[0]): int(r[1]) for r in src.execute("SELECT name, seq FROM sqlite_sequence")}
    except apsw.Error:
        old = {}
    tables = set(_tables(dst))
    for name, seq in old.items():
        if name not in tables:
            continue
        dst.execute("INSERT INTO sqlite_sequence (name, seq) SELECT ?, 0 WHERE NOT EXISTS "
                    "(SELECT 1 FROM sqlite_sequence WHERE name = ?)", (name, name))
        dst.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (seq, name))
