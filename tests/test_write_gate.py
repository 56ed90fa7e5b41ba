"""The write gate: threads and processes take turns at writing, in order, and nobody starves."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from pathlib import Path
from typing import Any

import apsw
import pytest

from core.store import ChatStore
from core.store.write_gate import GateTimeout, WriteGate, gate_for


def _wait_until(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_threads_get_their_turns_in_the_order_they_asked() -> None:
    gate = WriteGate(None)
    order: list[int] = []

    def writer(n: int) -> None:
        with gate.turn():
            order.append(n)

    threads = []
    with gate.turn():
        for n in range(6):
            asked = gate._threads._next
            thread = threading.Thread(target=writer, args=(n,))
            thread.start()
            threads.append(thread)
            _wait_until(lambda asked=asked: gate._threads._next > asked)  # n is queued
    for thread in threads:
        thread.join()
    assert order == list(range(6))


def test_a_thread_that_gives_up_waiting_does_not_stop_the_queue() -> None:
    gate = WriteGate(None)
    outcome: dict[str, Any] = {}

    def impatient() -> None:
        try:
            with gate.turn(wait_s=0.05):
                outcome["impatient"] = "got it"
        except GateTimeout:
            outcome["impatient"] = "gave up"

    def patient() -> None:
        with gate.turn():
            outcome["patient"] = "got it"

    with gate.turn():
        first = threading.Thread(target=impatient)
        first.start()
        _wait_until(lambda: gate._threads._next == 2)
        second = threading.Thread(target=patient)
        second.start()
        first.join()
    second.join(10)
    assert outcome == {"impatient": "gave up", "patient": "got it"}


def test_the_turn_is_reentrant_within_a_thread(tmp_path: Path) -> None:
    gate = gate_for(str(tmp_path / "x.sqlite3"))
    with gate.turn():
        with gate.turn():
            assert gate.held_here()
        assert gate.held_here()
    assert not gate.held_here()


def _hold_then_ask_again(path: str, seq: Any, holding: Any, go: Any, second: Any) -> None:
    gate = gate_for(path)
    with gate.turn():
        holding.set()
        go.wait(30)
    # Straight back for another turn, as a process writing in a tight loop does.
    with gate.turn():
        with seq.get_lock():
            second.value = seq.value
            seq.value += 1


def _someone_waits(path: str) -> bool:
    import fcntl
    import os

    fd = os.open(path + ".write-queue", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


@pytest.mark.parametrize("round_", range(3))
def test_a_process_that_waits_gets_the_turn_before_one_that_asks_again(
        tmp_path: Path, round_: int) -> None:
    # flock has no queue: without the waiting room, the process that just wrote would take
    # the lock back microseconds after releasing it, before this one's next poll.
    path = str(tmp_path / "glassbox.sqlite3")
    ctx = mp.get_context("spawn")
    seq, second = ctx.Value("q", 0), ctx.Value("q", -1)
    holding, go = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_hold_then_ask_again, args=(path, seq, holding, go, second))
    child.start()
    mine: list[int] = []

    def wait_for_turn() -> None:
        with gate_for(path).turn(wait_s=30):
            with seq.get_lock():
                mine.append(seq.value)
                seq.value += 1

    try:
        assert holding.wait(60), "the other process never took its turn"
        waiter = threading.Thread(target=wait_for_turn)
        waiter.start()
        _wait_until(lambda: _someone_waits(path))
        go.set()
        waiter.join(30)
    finally:
        go.set()
        child.join(30)
    assert mine == [0] and second.value == 1


def test_every_store_write_takes_its_turn(tmp_path: Path) -> None:
    """Statements that change the file run only while the writing thread holds the gate; a
    write that slipped past it could starve again."""
    path = tmp_path / "glassbox.sqlite3"
    outside: list[str] = []

    def trace(cursor: apsw.Cursor, sql: str, bindings: Any) -> bool:
        statement = sql.lstrip().upper()
        if not cursor.is_readonly and not statement.startswith("PRAGMA") \
                and not gate_for(str(path)).held_here():
            outside.append(sql)
        return True

    with ChatStore(path) as store:
        store._conn.exec_trace = trace
        chat = store.create_chat("traced")
        store.rename_chat(chat.id, "renamed")
        store.set_system_prompt(chat.id, "be brief")
        store.add_message(chat.id, "user", "hello")
        writer = store.start_reply(chat.id, commit_interval_s=0)
        writer.append("hi")
        writer.finish()
        store.settings.set("k", 1)
        store.presets.delete("nothing")
        store.comparisons.delete(12345)
        store.delete_chat(chat.id)
    assert outside == []


@pytest.fixture
def index_store(tmp_path: Path) -> Any:
    from core.rag.index_store import IndexStore

    with IndexStore(tmp_path / "glassbox.sqlite3") as store:
        yield store


def test_every_index_write_takes_its_turn(index_store: Any, tmp_path: Path) -> None:
    import numpy as np

    from core.rag.chunk import Chunk

    path = str(tmp_path / "glassbox.sqlite3")
    outside: list[str] = []

    def trace(cursor: apsw.Cursor, sql: str, bindings: Any) -> bool:
        if not cursor.is_readonly and not sql.lstrip().upper().startswith("PRAGMA") \
                and not gate_for(path).held_here():
            outside.append(sql)
        return True

    index_store.conn.exec_trace = trace
    collection = index_store.create_collection("c")
    index_store.add_source(collection, "/docs")
    index_store.add_documents(collection, ["/docs/a.md"])
    (doc,) = index_store.documents(collection)
    chunks = [Chunk(text="alpha", page=None, heading=None, ordinal=0, tokens=1)]
    index_store.store_document(doc.id, chunks, np.ones((1, 384), np.float32), "h", 1.0, 5)
    index_store.touch_document(doc.id, 2.0, 5)
    index_store.remove_documents([doc.id])
    index_store.remove_collection(collection)
    assert outside == []
