"""Conversations as trees: regenerate and edit keep alternatives, switching shows a branch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest

from core.chat import ChatSession
from core.engine.client import EngineClient
from core.engine.types import DoneEvent, SamplingSettings
from core.errors import PromptError, StoreError
from core.store import ChatStore
from core.store.db import MIGRATIONS

FAST = SamplingSettings(seed=5, max_tokens=8)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ChatStore]:
    s = ChatStore(tmp_path / "chats.sqlite3")
    yield s
    s.close()


def _contents(store: ChatStore, chat_id: int) -> list[str]:
    return [m.content for m in store.messages(chat_id)]


def test_a_chat_from_before_branching_becomes_one_path(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = apsw.Connection(str(path))
    for version, migration in enumerate(MIGRATIONS[:2], start=1):
        migration(conn)
        conn.execute(f"PRAGMA user_version = {version}")
    conn.execute("INSERT INTO chats(title, created_at, updated_at) VALUES ('old', 1, 1)")
    for i, role in enumerate(["user", "assistant", "user", "assistant"]):
        conn.execute("INSERT INTO messages(chat_id, role, content, status, created_at, grounding)"
                     " VALUES (1, ?, ?, 'complete', ?, ?)",
                     (role, f"m{i}", i, '{"kept": true}' if i == 3 else None))
    conn.close()
    with ChatStore(path) as store:
        messages = store.messages(1)
        assert [m.content for m in messages] == ["m0", "m1", "m2", "m3"]
        assert [m.parent_id for m in messages] == [None, 1, 2, 3]
        assert all(m.branch_position == (1, 1) for m in messages)
        assert messages[-1].grounding == {"kept": True}
        assert store.get_chat(1).active_leaf_id == 4
        store.add_message(1, "user", "m4")
        assert _contents(store, 1)[-1] == "m4"


def test_alternatives_switch_and_remember_their_own_continuations(store: ChatStore) -> None:
    chat = store.create_chat()
    q = store.add_message(chat.id, "user", "q")
    a1 = store.add_message(chat.id, "assistant", "a1")
    store.add_message(chat.id, "user", "follow-up on a1")
    a2 = store.add_message(chat.id, "assistant", "a2", parent_id=q.id)
    assert _contents(store, chat.id) == ["q", "a2"]
    assert store.messages(chat.id)[-1].siblings == (a1.id, a2.id)
    assert store.messages(chat.id)[-1].branch_position == (2, 2)
    assert store.switch_branch(a2.id, -1) == a1.id
    assert _contents(store, chat.id) == ["q", "a1", "follow-up on a1"]
    assert store.switch_branch(a1.id, -1) == a1.id  # already the first: stays
    assert store.switch_branch(a1.id, +5) == a2.id  # past the end: the last one
    assert _contents(store, chat.id) == ["q", "a2"]


def test_a_new_first_message_is_a_root_alternative(store: ChatStore) -> None:
    chat = store.create_chat()
    first = store.add_message(chat.id, "user", "first")
    store.add_message(chat.id, "assistant", "reply")
    other = store.add_message(chat.id, "user", "first, reworded", parent_id=None)
    shown = store.messages(chat.id)
    assert [m.content for m in shown] == ["first, reworded"]
    assert shown[0].siblings == (first.id, other.id)


def test_a_parent_from_another_chat_is_refused(store: ChatStore) -> None:
    chat, other = store.create_chat(), store.create_chat()
    foreign = store.add_message(other.id, "user", "elsewhere")
    with pytest.raises(StoreError, match="not in chat"):
        store.add_message(chat.id, "assistant", "x", parent_id=foreign.id)
    with pytest.raises(StoreError, match="does not exist"):
        store.select_branch(987654)


def test_deleting_a_message_takes_its_subtree_and_moves_the_branch_end(store: ChatStore) -> None:
    chat = store.create_chat()
    q = store.add_message(chat.id, "user", "q")
    a1 = store.add_message(chat.id, "assistant", "a1")
    store.add_message(chat.id, "user", "deep")
    a2 = store.add_message(chat.id, "assistant", "a2", parent_id=q.id)
    store.select_branch(a1.id)
    store.delete_messages_from(a1.id)
    assert [m.content for m in store.all_messages(chat.id)] == ["q", "a2"]
    assert _contents(store, chat.id) == ["q"]  # the parent of what went is the end now
    store.select_branch(a2.id)
    assert _contents(store, chat.id) == ["q", "a2"]


def test_a_long_chain_deletes_without_hitting_a_depth_limit(store: ChatStore) -> None:
    chat = store.create_chat()
    first = store.add_message(chat.id, "user", "0")
    for i in range(1, 1500):
        store.add_message(chat.id, "assistant" if i % 2 else "user", str(i))
    assert len(store.messages(chat.id)) == 1500
    store.delete_messages_from(first.id)
    assert store.all_messages(chat.id) == []
    store.delete_chat(chat.id)


def test_regenerate_answers_from_the_branch_only(store: ChatStore, engine: EngineClient) -> None:
    session = ChatSession(store, engine)
    chat = store.create_chat()
    first = [e for e in session.send(chat.id, "Name a colour.", FAST)
             if isinstance(e, DoneEvent)][0]
    again = [e for e in session.regenerate(chat.id, SamplingSettings(seed=9, max_tokens=8))
             if isinstance(e, DoneEvent)][0]
    # The earlier reply is an alternative, not history: the prompt is the same size.
    assert again.stats.prompt_tokens == first.stats.prompt_tokens
    user, reply = store.messages(chat.id)
    assert reply.branch_position == (2, 2) and reply.parent_id == user.id
    assert reply.content == again.text


def test_editing_an_earlier_message_forks_and_the_original_survives(
        store: ChatStore, engine: EngineClient) -> None:
    session = ChatSession(store, engine)
    chat = store.create_chat()
    list(session.send(chat.id, "Name a fruit.", FAST))
    list(session.send(chat.id, "And a second one?", FAST))
    first_question = store.messages(chat.id)[0]
    list(session.edit_user(chat.id, first_question.id, "Name a tree.", FAST))
    shown = store.messages(chat.id)
    assert [m.content for m in shown][0] == "Name a tree." and len(shown) == 2
    assert shown[0].branch_position == (2, 2)
    store.switch_branch(shown[0].id, -1)
    assert [m.content for m in store.messages(chat.id)][::2] == ["Name a fruit.",
                                                                "And a second one?"]


def test_a_refused_edit_leaves_the_original_branch(store: ChatStore,
                                                   own_engine: EngineClient) -> None:
    session = ChatSession(store, own_engine)
    chat = store.create_chat()
    list(session.send(chat.id, "Hi", FAST))
    before = _contents(store, chat.id)
    with pytest.raises(PromptError, match="too long"):
        list(session.edit_last_user(chat.id, "word " * 3000, FAST))
    assert _contents(store, chat.id) == before
    assert len(store.all_messages(chat.id)) == 2
    with pytest.raises(PromptError, match="Only your own"):
        session.fork_user(chat.id, store.messages(chat.id)[-1].id, "not a user message")


def test_regenerated_grounded_replies_keep_their_own_grounding(store: ChatStore) -> None:
    chat = store.create_chat()
    q = store.add_message(chat.id, "user", "q")
    first = store.add_message(chat.id, "assistant", "a1")
    store.set_message_grounding(first.id, {"sources": ["one"]})
    second = store.start_reply(chat.id, parent_id=q.id)
    second.append("a2")
    second.finish()
    store.set_message_grounding(second.message_id, {"sources": ["two"]})
    assert store.messages(chat.id)[-1].grounding == {"sources": ["two"]}
    store.switch_branch(second.message_id, -1)
    assert store.messages(chat.id)[-1].grounding == {"sources": ["one"]}


def test_switching_back_returns_to_the_alternatives_last_shown(store: ChatStore) -> None:
    chat = store.create_chat()
    q = store.add_message(chat.id, "user", "q")
    a1 = store.add_message(chat.id, "assistant", "a1")
    store.add_message(chat.id, "user", "u2")
    store.add_message(chat.id, "assistant", "b1")
    b2 = store.add_message(chat.id, "assistant", "b2", parent_id=store.messages(chat.id)[2].id)
    store.switch_branch(b2.id, -1)  # the user prefers b1 under u2
    a2 = store.add_message(chat.id, "assistant", "a2", parent_id=q.id)
    assert _contents(store, chat.id) == ["q", "a2"]
    assert store.switch_branch(a2.id, -1) == a1.id
    assert _contents(store, chat.id) == ["q", "a1", "u2", "b1"]  # not the newer b2
    store.delete_messages_from(store.messages(chat.id)[-1].id)  # b1 goes: b2 is left
    store.select_branch(a1.id)
    assert _contents(store, chat.id) == ["q", "a1", "u2", "b2"]
