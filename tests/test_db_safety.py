"""Database safety (as Anki does it): rolling backups, a quick check at open, and two ways back
from a damaged file (restore a backup, recover what can be read), on real SQLite files with
real damage: random bytes, truncation, a lost WAL, a newer Glassbox's file, a full disk."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest
from models.gguf_files import write_gguf
from robustness.test_environment_faults import _mount, _umount

from core.cli import main
from core.config import database_path
from core.errors import StoreError
from core.store import ChatStore, backup
from core.store.backup import backup_before_migration, backup_if_due, list_backups, make_backup
from core.store.db import MIGRATIONS
from core.store.health import check_database, database_in_use
from core.store.repair import (
    recover_database,
    restore_backup,
    run_scheduled_repair,
    schedule_repair,
    scheduled_repair,
)

ROOT = Path(__file__).resolve().parents[1]
CHATS, MESSAGES = 12, 15


_templates: dict[tuple[int, int], Path] = {}


@pytest.fixture(scope="module", autouse=True)
def template_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    _templates.clear()
    _templates[(0, 0)] = tmp_path_factory.mktemp("templates")
    yield
    _templates.clear()


def fill(db: Path, chats: int = CHATS, messages: int = MESSAGES) -> None:
    """Chats with messages long enough to span many pages (written once per shape, through
    the real store, then copied: each message commits on its own, which takes a while)."""
    template = _templates.get((chats, messages))
    if template is None:
        template = _templates[(0, 0)] / f"{chats}x{messages}.sqlite3"
        _write_chats(template, chats, messages)
        _templates[(chats, messages)] = template
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, db)


def _write_chats(db: Path, chats: int, messages: int) -> None:
    with ChatStore(db) as store:
        for c in range(chats):
            chat = store.create_chat(f"chat {c}")
            for m in range(messages):
                store.add_message(chat.id, "user" if m % 2 == 0 else "assistant",
                                  f"message {m} of chat {c} " + "words " * 60)
        store.settings.set("sampling", {"seed": 7})


def counts(db: Path) -> tuple[int, int]:
    with ChatStore(db) as store:
        chats = store.list_chats()
        return len(chats), sum(len(store.messages(c.id)) for c in chats)


def damage(db: Path, seed: int, size: int = 4096) -> int:
    """Overwrite `size` bytes at a random offset past the file's first page; return it."""
    rng = random.Random(seed)
    length = db.stat().st_size
    offset = rng.randrange(4096, length - size)
    with open(db, "r+b") as f:
        f.seek(offset)
        f.write(rng.randbytes(size))
    return offset


def damaged_db(home: Path) -> Path:
    """A database of a few chats, a backup of it, then 4 KB of random bytes in its middle."""
    db = home / "glassbox.sqlite3"
    fill(db)
    assert backup_if_due(db).backup is not None
    length = db.stat().st_size
    with open(db, "r+b") as f:
        f.seek(length // 2)
        f.write(random.Random(5).randbytes(4096))
    assert check_database(db).state == "damaged"
    return db


def readable_in_one_pass(db: Path, table: str) -> int:
    conn = apsw.Connection(str(db), flags=apsw.SQLITE_OPEN_READONLY)
    n = 0
    try:
        for _ in conn.execute(f"SELECT * FROM {table} ORDER BY rowid"):
            n += 1
    except (apsw.Error, UnicodeDecodeError):
        pass
    finally:
        conn.close()
    return n


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def aside_files(home: Path) -> list[str]:
    return sorted(p.name for p in home.iterdir() if ".damaged-" in p.name)


# -- backups ------------------------------------------------------------------------------------
def test_a_backup_is_a_whole_self_contained_copy_and_only_the_newest_are_kept(
        glassbox_home: Path) -> None:
    db = glassbox_home / "glassbox.sqlite3"
    fill(db)
    conn = apsw.Connection(str(db))
    try:
        made = [make_backup(conn, db, "manual", keep=3) for _ in range(5)]
    finally:
        conn.close()
    kept = list_backups(db)
    assert [b.path for b in kept] == [b.path for b in reversed(made[-3:])]
    assert all(b.size > 100_000 for b in kept)
    folder = db.parent / "backups"
    assert sorted(p.name for p in folder.iterdir()) == sorted(b.name for b in kept)
    assert counts(Path(kept[0].path)) == (CHATS, CHATS * MESSAGES)
    assert not list(folder.glob("*-wal"))  # opened above, yet no WAL beside it
    assert check_database(Path(kept[0].path)).state == "ok"


def test_the_start_backup_is_made_at_most_once_a_day(glassbox_home: Path) -> None:
    db = glassbox_home / "glassbox.sqlite3"
    assert backup_if_due(db).backup is None  # no database yet: nothing to back up
    fill(db)
    first = backup_if_due(db)
    assert first.backup is not None and first.backup.reason == "daily" and not first.warning
    assert backup_if_due(db).backup is None
    day_old = time.time() - 25 * 3600
    os.utime(first.backup.path, (day_old, day_old))
    assert backup_if_due(db).backup is not None
    assert len(list_backups(db)) == 2


def test_an_update_of_the_schema_is_preceded_by_a_backup(glassbox_home: Path) -> None:
    db = glassbox_home / "glassbox.sqlite3"
    fill(db)
    old = apsw.Connection(str(db))  # as Glassbox left it one schema ago
    old.execute("ALTER TABLE messages DROP COLUMN agent_trace")
    old.execute("ALTER TABLE chats DROP COLUMN tools")
    old.execute(f"PRAGMA user_version = {len(MIGRATIONS) - 1}")
    old.close()
    assert list_backups(db) == []
    assert counts(db) == (CHATS, CHATS * MESSAGES)  # opening migrates it
    (backup,) = list_backups(db)
    assert backup.reason == f"before-migration-{len(MIGRATIONS)}"
    copy = apsw.Connection(backup.path)
    assert copy.execute("PRAGMA user_version").fetchall() == [(len(MIGRATIONS) - 1,)]
    copy.close()
    ChatStore(glassbox_home / "fresh.sqlite3").close()  # a new database: nothing to back up
    assert len(list_backups(db)) == 1


def test_a_backup_folder_that_is_a_file_warns_and_never_stops_the_app(
        glassbox_home: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = glassbox_home / "glassbox.sqlite3"
    fill(db)
    (glassbox_home / "backups").write_text("not a folder")
    outcome = backup_if_due(db)
    assert outcome.backup is None and outcome.warning and "not a folder" in outcome.warning
    conn = apsw.Connection(str(db))
    try:
        assert "goes ahead" in (backup_before_migration(conn, db, 3).warning or "")
    finally:
        conn.close()
    assert "not a folder" in caplog.text
    assert counts(db) == (CHATS, CHATS * MESSAGES)
    assert check_database(db).state == "ok"


def test_a_read_only_backup_folder_warns(glassbox_home: Path) -> None:
    db = glassbox_home / "glassbox.sqlite3"
    fill(db)
    folder = glassbox_home / "backups"
    if not _mount(folder, "size=4m"):
        pytest.skip("no tmpfs here; a file-mode read-only folder does not bind root")
    try:
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        outcome = backup_if_due(db)
        assert outcome.backup is None and "not writable" in (outcome.warning or "")
    finally:
        _umount(folder)
    assert counts(db) == (CHATS, CHATS * MESSAGES)


@pytest.fixture
def small_backup_disk(glassbox_home: Path) -> Iterator[Path]:
    """The backup folder on a real 128 KB file system, smaller than the database."""
    folder = glassbox_home / "backups"
    if not _mount(folder, "size=128k"):
        pytest.skip("this machine does not allow mounting a tmpfs")
    yield folder
    _umount(folder)


def test_a_backup_that_would_fill_the_disk_is_not_started(
        glassbox_home: Path, small_backup_disk: Path) -> None:
    db = glassbox_home / "glassbox.sqlite3"
    fill(db)
    outcome = backup_if_due(db)
    assert outcome.backup is None and "nearly full" in (outcome.warning or "")
    assert list(small_backup_disk.iterdir()) == []


def test_a_full_backup_disk_warns_leaves_no_partial_copy_and_loses_nothing(
        glassbox_home: Path, small_backup_disk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = glassbox_home / "glassbox.sqlite3"
    fill(db, chats=30)
    assert db.stat().st_size > 200_000
    monkeypatch.setattr(backup, "_require_room", lambda *_: None)  # let the copy hit the end
    outcome = backup_if_due(db)
    assert outcome.backup is None
    assert outcome.warning and "the disk is full" in outcome.warning, outcome.warning
    assert list(small_backup_disk.iterdir()) == []  # the partial copy is gone
    assert counts(db) == (30, 30 * MESSAGES)
    assert check_database(db).state == "ok"


# -- the check at open --------------------------------------------------------------------------
def test_a_healthy_database_passes_and_a_missing_one_is_new(glassbox_home: Path) -> None:
    db = glassbox_home / "glassbox.sqlite3"
    assert check_database(db).state == "new" and check_database(db).ok
    fill(db)
    health = check_database(db)
    assert health.state == "ok" and health.schema_version == len(MIGRATIONS)


@pytest.mark.parametrize("seed", range(12))
def test_random_damage_gets_a_message_never_a_traceback(
        glassbox_home: Path, capsys: pytest.CaptureFixture[str], seed: int) -> None:
    db = glassbox_home / "glassbox.sqlite3"
    fill(db)
    damage(db, seed)
    health = check_database(db)  # never raises
    code, out, err = run_cli(capsys, "chat", "list")
    if health.state == "damaged":
        assert code == 1 and "is damaged" in err and "glassbox doctor --recover" in err
        code, out, _ = run_cli(capsys, "doctor")
        assert code == 1 and "PROBLEM" in out and "--restore" in out
        plain_read = readable_in_one_pass(db, "messages")
        result = recover_database(db)
        assert check_database(db).state == "ok"
        chats, messages = counts(db)
        # At least what reading straight through gets before the first damaged page (a
        # damaged root page of the table hides every row below it from both).
        assert chats >= 1 and messages >= plain_read, result.tables
        assert any(".damaged-" in p for p in result.kept_aside)
    else:  # the bytes hit free space or only text: SQLite cannot tell, and the app carries on
        assert health.state == "ok" and code == 0, err


def test_damage_to_the_header_is_caught_and_a_backup_brings_everything_back(
        glassbox_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = glassbox_home / "glassbox.sqlite3"
    fill(db)
    backup_if_due(db)
    with open(db, "r+b") as f:
        f.write(b"\x00" * 100)  # the 100-byte header, magic string and all
    assert check_database(db).state == "damaged"
    code, _, err = run_cli(capsys, "doctor", "--recover")
    assert code == 1 and "Nothing could be read" in err and "Restore a backup" in err
    assert not aside_files(glassbox_home)  # a failed recovery changes nothing
    code, out, err = run_cli(capsys, "doctor", "--restore")
    assert code == 0, err
    assert "Restored the backup" in out
    assert counts(db) == (CHATS, CHATS * MESSAGES)
    assert aside_files(glassbox_home)


def test_a_truncated_database_recovers_its_first_part_and_restores_whole(
        glassbox_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = glassbox_home / "glassbox.sqlite3"
    fill(db)
    backup_if_due(db)
    good = db.read_bytes()
    with open(db, "r+b") as f:
        f.truncate(len(good) // 2)
    assert check_database(db).state == "damaged"
    code, out, err = run_cli(capsys, "doctor", "--recover")
    assert code == 0, err
    chats, messages = counts(db)
    assert 0 < messages < CHATS * MESSAGES and chats >= 1, out
    code, out, err = run_cli(capsys, "doctor", "--restore")
    assert code == 0, err
    assert counts(db) == (CHATS, CHATS * MESSAGES)
    # the truncated file was recovered into a new one, and that one was then replaced
    assert any(".replaced-" in p.name for p in glassbox_home.iterdir())
    assert len(aside_files(glassbox_home)) >= 1


def test_a_deleted_wal_leaves_a_whole_database_as_of_the_last_checkpoint(
        glassbox_home: Path) -> None:
    db = glassbox_home / "glassbox.sqlite3"
    fill(db, chats=3)
    # A process that commits more chats and dies before any checkpoint: they live only in
    # the WAL, which is then lost (a copy of the folder without it, a cleaner, a crash).
    script = (
        "import os, sys; from pathlib import Path; from core.store import ChatStore; "
        "s = ChatStore(Path(sys.argv[1])); "
        "s._conn.execute('PRAGMA wal_autocheckpoint = 0'); "
        "[s.create_chat('late %d' % i) for i in range(4)]; os._exit(0)")
    subprocess.run([sys.executable, "-c", script, str(db)], cwd=ROOT, check=True)
    wal = Path(str(db) + "-wal")
    assert wal.stat().st_size > 0
    wal.unlink()
    Path(str(db) + "-shm").unlink(missing_ok=True)
    health = check_database(db)
    assert health.state == "ok", health.message
    with ChatStore(db) as store:
        titles = {c.title for c in store.list_chats()}
    assert titles == {f"chat {c}" for c in range(3)}  # the late chats went with the WAL


# -- a newer Glassbox's database ----------------------------------------------------------------
def test_a_newer_glassbox_database_is_refused_never_repaired_or_replaced(
        glassbox_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = glassbox_home / "glassbox.sqlite3"
    fill(db)
    backup_if_due(db)
    conn = apsw.Connection(str(db))
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    before = db.read_bytes()
    backups_before = list_backups(db)
    assert check_database(db).state == "newer"
    for args in (("chat", "list"), ("doctor",), ("doctor", "--restore"),
                 ("doctor", "--recover"), ("doctor", "--backup")):
        code, _, err = run_cli(capsys, *args)
        assert code == 1, args
    code, out, _ = run_cli(capsys, "doctor")
    assert "newer Glassbox" in out
    _, _, err = run_cli(capsys, "doctor", "--restore")
    assert "newer Glassbox" in err and "nothing has been changed" in err
    assert db.read_bytes() == before
    assert list_backups(db) == backups_before
    assert not aside_files(glassbox_home)


# -- restore and recover from the CLI -----------------------------------------------------------
def test_restore_from_the_cli_keeps_the_damaged_file_and_its_wal_aside(
        glassbox_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = damaged_db(glassbox_home)
    Path(str(db) + "-wal").write_bytes(b"")  # as an open app leaves it
    code, _, err = run_cli(capsys, "chat", "list")
    assert code == 1 and "Traceback" not in err and "is damaged" in err
    (backup,) = list_backups(db)
    code, out, err = run_cli(capsys, "doctor", "--restore", backup.name)
    assert code == 0, err
    assert backup.name in out and "kept as glassbox.sqlite3.damaged-" in out
    aside = aside_files(glassbox_home)
    assert aside[0] + "-wal" in aside and set(aside) <= {aside[0] + s for s in ("", "-wal",
                                                                               "-shm")}
    assert check_database(glassbox_home / aside[0]).state == "damaged"
    code, out, err = run_cli(capsys, "chat", "list")
    assert code == 0 and "chat 11" in out, err


def test_recover_from_the_cli_saves_what_can_be_read(
        glassbox_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = damaged_db(glassbox_home)
    code, out, err = run_cli(capsys, "doctor", "--recover", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["action"] == "recover" and result["kept_aside"]
    copied = {t["table"]: t["copied"] for t in result["tables"]}
    assert copied["chats"] + copied["messages"] > CHATS * MESSAGES // 2
    code, out, err = run_cli(capsys, "doctor")
    assert check_database(db).state == "ok"
    assert "quick check passed" in out
    chats, messages = counts(db)
    assert chats == CHATS and messages == copied["messages"]


def test_a_restore_is_refused_while_the_database_is_open(
        glassbox_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = damaged_db(glassbox_home)
    holder = apsw.Connection(str(db))
    try:
        holder.execute("SELECT count(*) FROM sqlite_schema").fetchall()
        assert database_in_use(db)
        code, _, err = run_cli(capsys, "doctor", "--restore")
        assert code == 1 and "Close it" in err
        assert not aside_files(glassbox_home)
    finally:
        holder.close()
    assert not database_in_use(db)
    assert restore_backup(db).action == "restore"


def test_a_damaged_backup_is_not_restored(glassbox_home: Path) -> None:
    db = damaged_db(glassbox_home)
    (backup,) = list_backups(db)
    with open(backup.path, "r+b") as f:
        f.write(b"\x00" * 100)
    with pytest.raises(Exception, match="no usable backup"):
        restore_backup(db)
    with pytest.raises(Exception, match="cannot be restored"):
        restore_backup(db, backup.name)
    assert not aside_files(glassbox_home)


def test_recovery_keeps_messages_whose_chat_was_lost_and_the_counters(
        glassbox_home: Path) -> None:
    db = glassbox_home / "glassbox.sqlite3"
    fill(db)
    conn = apsw.Connection(str(db))
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("DELETE FROM chats WHERE id = 3")  # as if its page were unreadable
    conn.close()
    recover_database(db)
    with ChatStore(db) as store:
        chats = {c.id: c for c in store.list_chats()}
        assert chats[3].title == "Recovered chat 3"
        assert len(store.messages(3)) == MESSAGES
        assert store.create_chat("next").id == CHATS + 1  # ids never come back


def test_recovery_keeps_collections_and_their_folders_for_reindexing(
        glassbox_home: Path, tmp_path: Path) -> None:
    from core.rag.library import DocumentLibrary

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("a note to index")
    with DocumentLibrary() as library:
        library.add_paths("notes", [docs])
    result = recover_database(database_path())
    assert {t.table: t.copied for t in result.tables}["rag_sources"] == 1
    with DocumentLibrary() as library:  # the index's own tables are made again on open
        assert [c.name for c in library.list_collections()] == ["notes"]
        assert library.watched_folders("notes") == [str(docs)]
        assert library.documents("notes") == []  # chunks, vectors, FTS: re-indexed
        assert [d.status for d in library.add_paths("notes", [])] == ["pending"]


def test_doctor_names_a_missing_model_file_and_a_broken_header(
        glassbox_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from core.models.registry import ModelRegistry

    registry = ModelRegistry()
    gone = write_gguf(tmp_path / "gone.gguf")
    cut = write_gguf(tmp_path / "cut.gguf")
    registry.import_file(gone, copy=False, name="gone")
    registry.import_file(cut, copy=False, name="cut")
    gone.unlink()
    cut.write_bytes(cut.read_bytes()[:200])
    code, out, _ = run_cli(capsys, "doctor")
    assert code == 1
    assert "PROBLEM  gone: file missing" in out
    assert "PROBLEM  cut:" in out and "2 problem(s)" in out
    assert "header valid" in out  # the bundled model


def test_doctor_lists_backups_with_sizes_and_backup_makes_one(
        glassbox_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(database_path())
    code, out, err = run_cli(capsys, "doctor", "--backup")
    assert code == 0 and "Backup written" in out, err
    code, out, _ = run_cli(capsys, "chat", "list")  # the day's backup is already there
    assert code == 0 and len(list_backups(database_path())) == 1
    code, out, _ = run_cli(capsys, "doctor")
    assert code == 0 and "Everything looks fine." in out
    assert "1 backup(s)" in out and "-manual.sqlite3" in out and " kB" in out


def test_a_repair_asked_for_the_next_start_runs_once(glassbox_home: Path) -> None:
    db = damaged_db(glassbox_home)
    schedule_repair(db, "restore")
    assert scheduled_repair(db) == ("restore", None)
    result = run_scheduled_repair(db)
    assert result is not None and result.action == "restore"
    assert counts(db) == (CHATS, CHATS * MESSAGES)
    assert run_scheduled_repair(db) is None
    schedule_repair(db, "restore", "no-such-backup")  # a failure is reported, not retried
    with pytest.raises(StoreError, match="No backup named"):
        run_scheduled_repair(db)
    assert scheduled_repair(db) is None


def test_a_backup_cut_short_is_never_listed_and_is_cleared_later(glassbox_home: Path) -> None:
    db = glassbox_home / "glassbox.sqlite3"
    fill(db)
    folder = glassbox_home / "backups"
    folder.mkdir()
    partial = folder / "glassbox-20250101-000000-daily.sqlite3.123.partial"
    partial.write_bytes(b"half a copy")
    assert list_backups(db) == []
    os.utime(partial, (time.time() - 7200, time.time() - 7200))
    assert backup_if_due(db).backup is not None
    assert not partial.exists()


# -- two processes ------------------------------------------------------------------------------
def test_two_processes_opening_an_old_database_at_once_both_succeed(
        glassbox_home: Path) -> None:
    db = glassbox_home / "glassbox.sqlite3"
    fill(db)
    old = apsw.Connection(str(db))
    old.execute("ALTER TABLE messages DROP COLUMN agent_trace")
    old.execute("ALTER TABLE chats DROP COLUMN tools")
    old.execute(f"PRAGMA user_version = {len(MIGRATIONS) - 1}")
    old.close()
    start = time.time() + 1.5
    script = ("import sys, time; from core.cli_doctor import open_checks; "
              "from core.store import ChatStore; from pathlib import Path; "
              "time.sleep(max(0, float(sys.argv[2]) - time.time())); "
              "open_checks(Path(sys.argv[1])); s = ChatStore(Path(sys.argv[1])); "
              "print(len(s.list_chats())); s.close()")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(db), str(start)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert [r[0].strip() for r in results] == [str(CHATS)] * 2
    assert check_database(db).schema_version == len(MIGRATIONS)
    backups = list_backups(db)
    assert 1 <= len(backups) <= 4  # each may have made its own: none is half written
    assert all(check_database(Path(b.path)).state == "ok" for b in backups)
    shutil.rmtree(glassbox_home / "backups")
    assert counts(db) == (CHATS, CHATS * MESSAGES)


def test_backup_ages_read_as_a_person_says_them() -> None:
    from core.doctor import age_text

    now = 1_000_000.0
    assert age_text(now - 5, now) == "less than a minute"
    assert age_text(now - 70, now) == "a minute"
    assert age_text(now - 600, now) == "10 minutes"
    assert age_text(now - 3 * 3600, now) == "3 hours"
    assert age_text(now - 5 * 86400, now) == "5 days"
    assert age_text(now + 30, now) == "less than a minute"  # a clock set back is not an error
