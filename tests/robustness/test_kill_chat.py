"""SIGKILL the app while a reply streams; every committed message must survive, once."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import apsw
import pytest
from killing import run_and_kill
from stress_level import record, trials

from core.store import ChatStore

DRIVER = Path(__file__).with_name("chat_kill_driver.py")


@dataclass
class Journal:
    users: dict[int, str] = field(default_factory=dict)  # message id -> text
    replies: set[int] = field(default_factory=set)
    done: dict[int, int] = field(default_factory=dict)  # reply id -> characters

    @classmethod
    def read(cls, path: Path) -> Journal:
        journal = cls()
        if not path.exists():
            return journal
        for line in path.read_text(encoding="utf-8").splitlines():
            kind, _, rest = line.partition(" ")
            if kind == "user":
                message_id, _, text = rest.partition(" ")
                journal.users[int(message_id)] = text
            elif kind == "reply":
                journal.replies.add(int(rest))
            elif kind == "done":
                reply_id, _, chars = rest.partition(" ")
                journal.done[int(reply_id)] = int(chars)
        return journal


def integrity(db: Path) -> str:
    conn = apsw.Connection(str(db))
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchall()[0][0])
    finally:
        conn.close()


def check_chat_invariants(db: Path, journal: Journal) -> dict[str, int]:
    """Assert what a kill must never do; count what it did do (interrupted replies)."""
    assert integrity(db) == "ok"
    with ChatStore(db) as store:  # opening marks a reply left 'streaming' as interrupted
        rows = [m for chat in store.list_chats() for m in store.messages(chat.id)]
    by_id = {m.id: m for m in rows}
    assert not [m for m in rows if m.status == "streaming"], "a dead reply still streams"
    user_texts = [m.content for m in rows if m.role == "user"]
    assert len(user_texts) == len(set(user_texts)), "a user message was stored twice"
    for message_id, text in journal.users.items():
        assert message_id in by_id, f"committed message {message_id} was lost"
        assert by_id[message_id].content == text
    for reply_id in journal.replies:
        assert reply_id in by_id, f"committed reply {reply_id} was lost"
        reply = by_id[reply_id]
        if reply_id in journal.done:
            assert reply.status == "complete"
            assert len(reply.content) == journal.done[reply_id]
        else:  # cut by the kill: marked so (or completed just before the kill landed)
            assert reply.status in ("interrupted", "complete"), reply.status
    return {"messages": len(rows),
            "interrupted": sum(1 for m in rows if m.status == "interrupted")}


@pytest.mark.stress
def test_sigkill_while_replies_stream_loses_nothing(tmp_path: Path,
                                                    python_env: dict[str, str]) -> None:
    db, journal_path = tmp_path / "glassbox.db", tmp_path / "journal.txt"
    rng = random.Random(20261123)
    count = trials(short=8, full=1000)
    killed_running = 0
    figures: dict[str, int] = {}
    for _ in range(count):
        # Kill anywhere from before the first token to a few replies in (3 lines a reply).
        running = run_and_kill(DRIVER, [str(db), str(journal_path)], journal_path,
                               python_env, rng, max_delay_s=0.6, max_steps=7)
        killed_running += running
        figures = check_chat_invariants(db, Journal.read(journal_path))
    journal = Journal.read(journal_path)
    # The harness must have really cut replies, not only killed idle processes.
    assert killed_running == count
    assert figures["interrupted"] >= 1
    assert len(journal.done) >= 1
    record("chat_kill", {
        "trials": count, "sigkills": killed_running,
        "committed_user_messages": len(journal.users), "replies_started": len(journal.replies),
        "replies_completed": len(journal.done), "replies_interrupted": figures["interrupted"],
        "lost": 0, "duplicated": 0, "integrity_failures": 0,
    })
