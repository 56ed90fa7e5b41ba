"""Real load on the database: writers in two processes at once, none refused, nothing lost.

Short under `make test` (a few seconds, and the old starvation test a few times over); the
full 60 s run and 200 rounds of the old test under `make stress`.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import pytest
from stress_level import FULL, record, trials

from core.store import ChatStore

pytestmark = pytest.mark.stress

MIXED_S = 60.0 if FULL else 6.0
REPLY_INTERVAL_S = 1.0 if FULL else 0.2
OLD_TEST_ROUNDS = trials(5, 200)


def _run_threads(jobs: dict[str, Any], until: float, errors: list[str]) -> dict[str, Any]:
    """Run each job(until) in its own thread; collect what they return and what they raise."""
    results: dict[str, Any] = {}

    def run(name: str, job: Any) -> None:
        try:
            results[name] = job(until)
        except BaseException:  # noqa: BLE001 - reported to the test
            errors.append(f"{name}: {traceback.format_exc()}")

    threads = [threading.Thread(target=run, args=item) for item in jobs.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _chat_process(path: str, home: str, start_at: float, out: Any) -> None:
    """The window's side: a reply streaming and committing on its interval, a user typing
    messages, settings saved, a comparison kept."""
    os.environ["GLASSBOX_HOME"] = home
    db = Path(path)
    errors: list[str] = []

    def stream(until: float) -> dict[str, Any]:
        with ChatStore(db) as store:
            chat = store.create_chat("streaming")
            store.add_message(chat.id, "user", "question")
            writer = store.start_reply(chat.id, commit_interval_s=REPLY_INTERVAL_S)
            n = 0
            while time.monotonic() < until:
                writer.append(f"t{n} ")
                n += 1
                time.sleep(0.01)  # a model's pace: about 100 tokens a second
            writer.finish(stats={"tokens": n})
            return {"message": writer.message_id, "tokens": n}

    def type_messages(until: float) -> dict[str, Any]:
        with ChatStore(db) as store:
            chat = store.create_chat("typing")
            n = 0
            while time.monotonic() < until:
                store.add_message(chat.id, "user", f"message {n}")
                n += 1
            return {"chat": chat.id, "messages": n}

    def settings(until: float) -> dict[str, Any]:
        with ChatStore(db) as store:
            n = 0
            while time.monotonic() < until:
                store.settings.set("chat-side", n)
                n += 1
            return {"last": n - 1}

    time.sleep(max(0.0, start_at - time.time()))
    until = time.monotonic() + MIXED_S
    results = _run_threads({"stream": stream, "type": type_messages, "settings": settings},
                           until, errors)
    out.put({"errors": errors, **results})


def _index_process(path: str, home: str, model: str, start_at: float, out: Any) -> None:
    """The background's side: documents indexed one transaction each, models registered,
    settings saved in a tight loop."""
    os.environ["GLASSBOX_HOME"] = home
    import numpy as np

    from core.models.registry import ModelRegistry
    from core.rag.chunk import Chunk
    from core.rag.index_store import IndexStore

    db = Path(path)
    errors: list[str] = []
    rng = np.random.default_rng(0)

    def index(until: float) -> dict[str, Any]:
        with IndexStore(db) as store:
            collection = store.create_collection("load")
            n = 0
            while time.monotonic() < until:
                path = f"/docs/{n}.md"
                store.add_documents(collection, [path])
                doc = next(d for d in store.documents(collection) if d.path == path)
                chunks = [Chunk(text=f"document {n} passage {i}", page=None, heading=None,
                                ordinal=i, tokens=4) for i in range(20)]
                vectors = rng.standard_normal((20, 384)).astype(np.float32)
                store.store_document(doc.id, chunks, vectors, f"hash{n}", 1.0, 100)
                n += 1
            return {"documents": n}

    def register(until: float) -> dict[str, Any]:
        registry = ModelRegistry()
        names = []
        while time.monotonic() < until and len(names) < 20:
            names.append(registry.import_file(model, copy=False, name=f"load-{len(names)}").name)
        return {"models": names}

    def settings(until: float) -> dict[str, Any]:
        with ChatStore(db) as store:
            n = 0
            while time.monotonic() < until:
                store.settings.set("index-side", n)
                n += 1
            return {"last": n - 1}

    time.sleep(max(0.0, start_at - time.time()))
    until = time.monotonic() + MIXED_S
    results = _run_threads({"index": index, "register": register, "settings": settings},
                           until, errors)
    out.put({"errors": errors, **results})


def test_writers_in_two_processes_are_never_refused_and_lose_nothing(
        tmp_path: Path, glassbox_home: Path, model_path: Path) -> None:
    from core.models.registry import ModelRegistry
    from core.rag.index_store import IndexStore

    db = tmp_path / "glassbox.sqlite3"
    ChatStore(db).close()  # made and migrated once, before the race
    IndexStore(db).close()
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 3  # both start together, after their imports
    children = [
        ctx.Process(target=_chat_process, args=(str(db), str(glassbox_home), start_at, out)),
        ctx.Process(target=_index_process,
                    args=(str(db), str(glassbox_home), str(model_path), start_at, out)),
    ]
    for child in children:
        child.start()
    reports = [out.get(timeout=MIXED_S + 120) for _ in children]
    for child in children:
        child.join(30)
    chat_side = next(r for r in reports if "stream" in r or "type" in r)
    index_side = next(r for r in reports if r is not chat_side)
    assert chat_side["errors"] == [] and index_side["errors"] == []

    with ChatStore(db) as store:
        reply = store.get_message(chat_side["stream"]["message"])
        assert reply.status == "complete"
        assert reply.content == "".join(f"t{n} " for n in range(chat_side["stream"]["tokens"]))
        typed = [m.content for m in store.messages(chat_side["type"]["chat"])]
        assert typed == [f"message {n}" for n in range(chat_side["type"]["messages"])]
        assert store.settings.get("chat-side") == chat_side["settings"]["last"]
        assert store.settings.get("index-side") == index_side["settings"]["last"]
    with IndexStore(db) as index:
        collection = index.collection_id("load")
        assert collection is not None
        documents = index.documents(collection)
        assert len(documents) == index_side["index"]["documents"]
        assert all(d.status == "indexed" and d.chunks == 20 for d in documents)
        assert index.chunk_count(collection) == 20 * len(documents)
        assert index.conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    registered = {m.name for m in ModelRegistry().models()}
    assert set(index_side["register"]["models"]) <= registered
    record("mixed_writers", {
        "seconds": MIXED_S, "refused": 0, "lost": 0,
        "reply_tokens": chat_side["stream"]["tokens"],
        "messages": chat_side["type"]["messages"],
        "documents": len(documents), "models": len(index_side["register"]["models"]),
        "settings_writes": chat_side["settings"]["last"] + index_side["settings"]["last"] + 2,
    })


def _settings_loop(path: str, stop: Any, errors: Any) -> None:
    with ChatStore(Path(path)) as other:
        n = 0
        while not stop.is_set():
            try:
                other.settings.set("counter", n)
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.put(repr(exc))
                return
            n += 1


@pytest.mark.parametrize("where", ["thread", "process"])
def test_a_tight_loop_writer_never_starves_another_many_times_over(
        tmp_path: Path, where: str) -> None:
    """The test CI once failed on (tests/test_store.py), run OLD_TEST_ROUNDS times, with the
    tight-loop writer in another thread and in another process."""
    for round_ in range(OLD_TEST_ROUNDS):
        db = tmp_path / f"round{round_}.sqlite3"
        with ChatStore(db) as store:
            chat = store.create_chat()
            if where == "thread":
                import queue

                stop: Any = threading.Event()
                errors: Any = queue.Queue()
                other: Any = threading.Thread(target=_settings_loop,
                                              args=(str(db), stop, errors))
            else:
                ctx = mp.get_context("spawn")
                stop, errors = ctx.Event(), ctx.Queue()
                other = ctx.Process(target=_settings_loop, args=(str(db), stop, errors))
            other.start()
            try:
                if where == "process":
                    deadline = time.monotonic() + 60
                    while store.settings.get("counter") is None:
                        assert time.monotonic() < deadline, "the other process never wrote"
                        time.sleep(0.01)
                for i in range(300):
                    store.add_message(chat.id, "user", f"message {i}")
            finally:
                stop.set()
                other.join()
            assert errors.empty(), errors.get()
            assert len(store.messages(chat.id)) == 300
