"""The SQLite store on real files: migrations, durability, crash recovery, search."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest

from core.errors import StoreError
from core.store import ChatStore, open_database
from core.store.db import MIGRATIONS


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "glassbox.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[ChatStore]:
    s = ChatStore(db_path)
    yield s
    s.close()


def pragma(conn: apsw.Connection, name: str) -> object:
    return conn.execute(f"PRAGMA {name}").fetchall()[0][0]


def test_new_database_is_migrated_with_durable_pragmas(db_path: Path) -> None:
    conn = open_database(db_path)
    assert pragma(conn, "user_version") == len(MIGRATIONS)
    assert pragma(conn, "journal_mode") == "wal"
    assert pragma(conn, "foreign_keys") == 1
    assert pragma(conn, "synchronous") == 2  # FULL
    conn.execute("INSERT INTO settings VALUES ('k', '1')")
    conn.close()
    again = open_database(db_path)  # migrations do not run twice (they would fail if they did)
    assert again.execute("SELECT value FROM settings").fetchall() == [("1",)]
    again.close()


def test_database_from_a_newer_version_is_refused(db_path: Path) -> None:
    open_database(db_path).execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    with pytest.raises(StoreError, match="newer Glassbox"):
        open_database(db_path)


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    junk = os.urandom(8192)
    db_path.write_bytes(junk)
    with pytest.raises(StoreError, match="not a Glassbox database"):
        ChatStore(db_path)
    assert db_path.read_bytes() == junk


def test_chats_create_rename_delete_cascade(store: ChatStore) -> None:
    a = store.create_chat()
    b = store.create_chat("Second", system_prompt="Be brief.")
    store.add_message(a.id, "user", "hello")
    assert [c.id for c in store.list_chats()] == [a.id, b.id]  # newest activity first
    store.rename_chat(b.id, "  Renamed ")
    assert store.get_chat(b.id).title == "Renamed"
    with pytest.raises(StoreError, match="cannot be empty"):
        store.rename_chat(b.id, "   ")
    store.set_system_prompt(a.id, "Pirate.")
    assert store.get_chat(a.id).system_prompt == "Pirate."
    store.delete_chat(a.id)
    assert [c.id for c in store.list_chats()] == [b.id]
    assert store.messages(a.id) == []
    with pytest.raises(StoreError, match="does not exist"):
        store.get_chat(a.id)


def test_search_matches_titles_and_messages_with_unicode_and_wildcards(store: ChatStore) -> None:
    cafe = store.create_chat("naïve café 日本語")
    pct = store.create_chat("Discounts")
    store.add_message(pct.id, "user", "is 50% off real?")
    other = store.create_chat("Other")
    store.add_message(other.id, "assistant", "50 percent")
    assert [c.id for c in store.list_chats("NAÏVE CAFÉ")] == [cafe.id]
    assert [c.id for c in store.list_chats("日本")] == [cafe.id]
    assert [c.id for c in store.list_chats("50%")] == [pct.id]  # % is literal, not a wildcard
    assert store.list_chats("nothing like this") == []


def test_reply_writer_commits_at_most_once_an_interval(store: ChatStore, db_path: Path) -> None:
    chat = store.create_chat()
    now = [100.0]
    writer = store.start_reply(chat.id, commit_interval_s=1.0, clock=lambda: now[0])
    reader = ChatStore(db_path)  # another connection, as the GUI thread would have
    try:
        writer.append("Hel")
        assert reader.get_message(writer.message_id).content == ""
        now[0] += 1.0
        writer.append("lo")
        seen = reader.get_message(writer.message_id)
        assert (seen.content, seen.status) == ("Hello", "streaming")
        now[0] += 0.5
        writer.append(" world")
        assert reader.get_message(writer.message_id).content == "Hello"
        writer.finish("complete", {"completion_tokens": 3})
        done = reader.get_message(writer.message_id)
        assert (done.content, done.status, done.stats) == ("Hello world", "complete",
                                                           {"completion_tokens": 3})
        with pytest.raises(StoreError):
            writer.append("more")
    finally:
        reader.close()


def test_unfinished_reply_shows_as_interrupted_after_reopen(db_path: Path) -> None:
    s = ChatStore(db_path)
    chat = s.create_chat()
    writer = s.start_reply(chat.id, commit_interval_s=0)
    writer.append("partial answer")
    s.close()  # no finish(): the process "died"
    reopened = ChatStore(db_path)
    (reply,) = reopened.messages(chat.id)
    assert (reply.content, reply.status) == ("partial answer", "interrupted")
    reopened.close()


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


def test_settings_round_trip(store: ChatStore) -> None:
    assert store.settings.get("missing", 7) == 7
    store.settings.set("sampling", {"temperature": 0.5, "seed": -1})
    store.settings.set("sampling", {"temperature": 0.2})
    assert store.settings.get("sampling") == {"temperature": 0.2}


def test_empty_and_huge_messages_round_trip(store: ChatStore) -> None:
    chat = store.create_chat()
    huge = "ß日🙂x" * 250_000
    empty = store.add_message(chat.id, "user", "")
    big = store.add_message(chat.id, "assistant", huge)
    assert store.get_message(empty.id).content == ""
    assert store.get_message(big.id).content == huge


def _stream_forever(path: str, ready: mp.synchronize.Event) -> None:
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
        assert ready.wait(60)
        time.sleep(0.2)
    finally:
        os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
        child.join()
    store = ChatStore(db_path)
    try:
        assert store._conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        (chat,) = store.list_chats()
        (reply,) = store.messages(chat.id)
        assert reply.status == "interrupted"
        assert reply.content.startswith("token0 token1 ") and len(reply.content) > 200
    finally:
        store.close()
