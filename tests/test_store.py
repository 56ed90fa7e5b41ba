"""The SQLite store on real files: migrations, durability, crash recovery, search."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apsw
import pytest

from core.errors import StoreError
from core.store import ChatStore, open_database
from core.store import db as store_db
from core.store.db import MIGRATIONS


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "glassbox.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[ChatStore]:
    s = ChatStore(db_path)
    yield s
    s.close()


def pragma(conn: apsw.Connection, name: str) -> Any:
    return conn.execute(f"PRAGMA {name}").fetchall()[0][0]


def tables(conn: apsw.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_schema WHERE type='table'")}


# -- opening and migrating ------------------------------------------------------------------

def test_new_database_is_migrated_with_durable_pragmas(db_path: Path) -> None:
    conn = open_database(db_path)  # the parent folder does not exist yet
    assert pragma(conn, "user_version") == len(MIGRATIONS)
    assert {"chats", "messages", "settings"} <= tables(conn)
    assert pragma(conn, "journal_mode") == "wal"
    assert pragma(conn, "foreign_keys") == 1
    assert pragma(conn, "synchronous") == 2  # FULL
    conn.execute("INSERT INTO settings VALUES ('k', '1')")
    conn.close()
    again = open_database(db_path)  # migrations do not run twice (they would fail if they did)
    assert pragma(again, "user_version") == len(MIGRATIONS)
    assert again.execute("SELECT value FROM settings").fetchall() == [("1",)]
    again.close()


def test_a_failing_migration_leaves_the_previous_version(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_database(db_path).close()

    def broken(conn: apsw.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("power cut")

    monkeypatch.setattr(store_db, "MIGRATIONS", [*MIGRATIONS, broken])
    with pytest.raises(RuntimeError, match="power cut"):
        open_database(db_path)
    monkeypatch.undo()
    conn = open_database(db_path)
    assert pragma(conn, "user_version") == len(MIGRATIONS)
    assert "half_done" not in tables(conn)
    conn.close()


def test_database_from_a_newer_version_is_refused(db_path: Path) -> None:
    conn = open_database(db_path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer Glassbox"):
        open_database(db_path)


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    junk = os.urandom(8192)
    db_path.write_bytes(junk)
    with pytest.raises(StoreError, match="not a Glassbox database") as raised:
        ChatStore(db_path)
    assert str(db_path) in str(raised.value)
    assert db_path.read_bytes() == junk


def test_another_programs_database_is_refused_and_left_alone(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    other = apsw.Connection(str(db_path))
    other.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
    other.close()
    before = db_path.read_bytes()
    with pytest.raises(StoreError, match="another program"):
        open_database(db_path)
    assert db_path.read_bytes() == before


def _open_all_at_once(path: Path, count: int) -> list[BaseException]:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []  # pytest cannot see an exception raised in a thread

    def open_it() -> None:
        barrier.wait()
        try:
            open_database(path).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_many_connections_opening_a_new_database_at_once(tmp_path: Path) -> None:
    # The app opens a reader and a writer at start; on first run both find an empty file.
    for attempt in range(15):
        path = tmp_path / f"race{attempt}.sqlite3"
        assert _open_all_at_once(path, 6) == []
        conn = open_database(path)
        assert pragma(conn, "user_version") == len(MIGRATIONS)
        conn.close()


# -- chats ----------------------------------------------------------------------------------

def test_chats_create_rename_delete_cascade(store: ChatStore) -> None:
    a = store.create_chat()
    b = store.create_chat("Second", system_prompt="Be brief.")
    assert (a.title, a.system_prompt, a.model_path) == ("New chat", "", None)
    store.add_message(a.id, "user", "hello")
    assert [c.id for c in store.list_chats()] == [a.id, b.id]  # newest activity first
    store.rename_chat(b.id, "  Renamed ")
    assert store.get_chat(b.id).title == "Renamed"
    assert [c.id for c in store.list_chats()] == [a.id, b.id]  # renaming is not activity
    with pytest.raises(StoreError, match="cannot be empty"):
        store.rename_chat(b.id, "   ")
    store.set_system_prompt(a.id, "Pirate.")
    store.set_chat_model(a.id, "/models/small.gguf")
    assert store.get_chat(a.id).system_prompt == "Pirate."
    assert store.get_chat(a.id).model_path == "/models/small.gguf"
    store.set_chat_model(a.id, None)
    assert store.get_chat(a.id).model_path is None
    store.delete_chat(a.id)
    assert [c.id for c in store.list_chats()] == [b.id]
    assert store.messages(a.id) == []
    assert store._conn.execute("SELECT count(*) FROM messages").fetchall() == [(0,)]
    with pytest.raises(StoreError, match="does not exist"):
        store.get_chat(a.id)
    with pytest.raises(StoreError, match="does not exist"):
        store.rename_chat(a.id, "Gone")


def test_search_matches_titles_and_messages_with_unicode_and_wildcards(store: ChatStore) -> None:
    cafe = store.create_chat("naïve café 日本語")
    pct = store.create_chat("Discounts")
    store.add_message(pct.id, "user", "is 50% off real?")
    other = store.create_chat("Other")
    store.add_message(other.id, "assistant", "50 percent, file_name.txt")
    underscore = store.create_chat("snake")
    store.add_message(underscore.id, "user", "STRASSE Ärger")
    assert [c.id for c in store.list_chats("NAÏVE CAFÉ")] == [cafe.id]
    assert [c.id for c in store.list_chats("日本")] == [cafe.id]
    assert [c.id for c in store.list_chats("50%")] == [pct.id]  # % is literal, not a wildcard
    assert [c.id for c in store.list_chats("e_n")] == [other.id]  # so is _
    assert [c.id for c in store.list_chats("straße ärger")] == [underscore.id]
    assert store.list_chats("nothing like this") == []
    assert len(store.list_chats("   ")) == 4


def test_bad_messages_are_refused_with_a_reason(store: ChatStore) -> None:
    chat = store.create_chat()
    with pytest.raises(StoreError, match="message role"):
        store.add_message(chat.id, "robot", "hi")
    with pytest.raises(StoreError, match="message status"):
        store.add_message(chat.id, "user", "hi", status="done")
    with pytest.raises(StoreError, match="does not exist"):
        store.add_message(chat.id + 100, "user", "hi")
    with pytest.raises(StoreError, match="does not exist"):
        store.update_message(12345, "text", "complete")
    assert store.messages(chat.id) == []


# -- streaming replies ----------------------------------------------------------------------

def test_reply_writer_commits_at_most_once_an_interval(store: ChatStore, db_path: Path) -> None:
    reader = ChatStore(db_path)  # another connection, as the GUI thread would have
    chat = store.create_chat()
    now = [100.0]
    writer = store.start_reply(chat.id, commit_interval_s=1.0, clock=lambda: now[0])
    try:
        commits_before = pragma(reader._conn, "data_version")
        for piece in ["Hel"] * 50:  # many pieces inside one interval: no commit at all
            writer.append(piece)
            now[0] += 0.01
        assert pragma(reader._conn, "data_version") == commits_before
        assert reader.get_message(writer.message_id).content == ""
        now[0] += 0.5
        writer.append("lo")
        seen = reader.get_message(writer.message_id)
        assert (seen.content, seen.status) == ("Hel" * 50 + "lo", "streaming")
        now[0] += 0.5
        writer.append(" world")
        assert reader.get_message(writer.message_id).content == "Hel" * 50 + "lo"
        assert writer.text == "Hel" * 50 + "lo world"
        writer.finish("complete", {"completion_tokens": 3, "tokens_per_s": 41.5})
        done = reader.get_message(writer.message_id)
        assert (done.content, done.status) == ("Hel" * 50 + "lo world", "complete")
        assert done.stats == {"completion_tokens": 3, "tokens_per_s": 41.5}
        with pytest.raises(StoreError, match="already finished"):
            writer.append("more")
        with pytest.raises(StoreError, match="already finished"):
            writer.finish()
    finally:
        reader.close()


def test_a_reply_cannot_finish_as_streaming(store: ChatStore) -> None:
    writer = store.start_reply(store.create_chat().id)
    with pytest.raises(StoreError, match="final status"):
        writer.finish("streaming")
    writer.finish("failed")
    assert store.get_message(writer.message_id).status == "failed"


def test_unfinished_reply_shows_as_interrupted_after_reopen(db_path: Path) -> None:
    s = ChatStore(db_path)
    chat = s.create_chat()
    writer = s.start_reply(chat.id, commit_interval_s=0)
    writer.append("partial ")
    writer.append("answer")
    assert s.get_message(writer.message_id).status == "streaming"
    s.close()  # no finish(): the process "died"
    reopened = ChatStore(db_path)
    (reply,) = reopened.messages(chat.id)
    assert (reply.content, reply.status) == ("partial answer", "interrupted")
    reopened.close()


def _stream_forever(path: str, ready: Any) -> None:
    store = ChatStore(Path(path))
    chat = store.create_chat("streaming")
    writer = store.start_reply(chat.id, commit_interval_s=0)
    n = 0
    while True:
        writer.append(f"token{n} ")
        n += 1
        if n == 50:
            ready.set()


def test_a_killed_writer_loses_nothing_committed(db_path: Path) -> None:
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    child = ctx.Process(target=_stream_forever, args=(str(db_path), ready))
    child.start()
    try:
        assert ready.wait(60), "the child never started streaming"
        time.sleep(0.2)
    finally:
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join()
    assert child.exitcode == -signal.SIGKILL
    store = ChatStore(db_path)
    try:
        assert store._conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        (chat,) = store.list_chats()
        (reply,) = store.messages(chat.id)
        assert reply.status == "interrupted"
        assert reply.content.startswith("token0 token1 ") and len(reply.content) > 200
    finally:
        store.close()


# -- other messages and settings ------------------------------------------------------------

def test_delete_messages_from_drops_the_tail_only(store: ChatStore) -> None:
    chat = store.create_chat()
    other = store.create_chat()
    ids = [store.add_message(chat.id, r, t).id
           for r, t in [("user", "a"), ("assistant", "b"), ("user", "c"), ("assistant", "d")]]
    kept = store.add_message(other.id, "user", "untouched")
    store.delete_messages_from(ids[2])
    assert [m.content for m in store.messages(chat.id)] == ["a", "b"]
    assert store.messages(other.id) == [kept]
    replacement = store.add_message(chat.id, "user", "c2")
    assert replacement.id > ids[-1]  # ids are never reused
    store.delete_messages_from(99999)  # a message that is already gone: nothing happens
    assert [m.content for m in store.messages(chat.id)] == ["a", "b", "c2"]


def test_settings_round_trip(store: ChatStore, db_path: Path) -> None:
    assert store.settings.get("missing", 7) == 7
    assert store.settings.get("missing") is None
    store.settings.set("sampling", {"temperature": 0.5, "seed": -1})
    store.settings.set("sampling", {"temperature": 0.2})
    store.settings.set("name", "Zoë 日本")
    assert store.settings.get("sampling") == {"temperature": 0.2}
    store._conn.execute("UPDATE settings SET value = '{not json' WHERE key = 'name'")
    assert store.settings.get("name", "fallback") == "fallback"
    store.close()
    with ChatStore(db_path) as reopened:
        assert reopened.settings.get("sampling") == {"temperature": 0.2}


def test_empty_and_huge_messages_round_trip(store: ChatStore) -> None:
    chat = store.create_chat()
    huge = "ß日🙂x" * 250_000
    empty = store.add_message(chat.id, "user", "")
    big = store.add_message(chat.id, "assistant", huge)
    assert store.get_message(empty.id).content == ""
    assert store.get_message(big.id).content == huge
    assert [m.id for m in store.messages(chat.id)] == [empty.id, big.id]


def test_damaged_stats_do_not_hide_the_message(store: ChatStore) -> None:
    chat = store.create_chat()
    message = store.add_message(chat.id, "assistant", "answer")
    store._conn.execute("UPDATE messages SET stats = '{oops' WHERE id = ?", (message.id,))
    assert store.get_message(message.id).content == "answer"
    assert store.get_message(message.id).stats is None


def test_writes_from_two_connections_at_once_wait_for_each_other(store: ChatStore,
                                                                 db_path: Path) -> None:
    # A transaction that reads before it writes must take the write lock first: otherwise a
    # commit by the other connection in between fails it at once ("busy"), whatever the busy
    # timeout (CI saw a reply refused this way while a download registered its model).
    chat = store.create_chat()
    errors: list[BaseException] = []
    stop = threading.Event()

    def other_writer() -> None:
        with ChatStore(db_path) as other:
            n = 0
            while not stop.is_set():
                try:
                    other.settings.set("counter", n)
                except BaseException as exc:  # noqa: BLE001 - reported by the test
                    errors.append(exc)
                    return
                n += 1

    thread = threading.Thread(target=other_writer)
    thread.start()
    try:
        for i in range(300):
            store.add_message(chat.id, "user", f"message {i}")
    finally:
        stop.set()
        thread.join()
    assert errors == []
    assert len(store.messages(chat.id)) == 300
